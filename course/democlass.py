"""``make demo``, part 2: the whole grading job on a synthetic class.

In ``demo_course/`` (git-ignored, next to ``nbgrader_config.py``): a course whose config loads
the repository's, the instructor's ``source/`` and ``expected/`` for ps1, ps2 and ps3, released
with nbgrader, and a class of at least 20 students per assignment whose submissions span
correct, partly wrong (the bug zoos in ``tests/zoo/``), blank, broken and cheating notebooks.
Then ``course grade`` (sandboxed, in parallel, with the progress bar), ``course feedback``,
the grade table and ``course report``, and where everything is. Submissions are written only
when missing, so a rerun finds nothing changed and resumes in seconds (``--fresh`` starts
over).

Run: ``python -m course.democlass [--fresh]``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import nbformat

from course.cli import _nbgrader, cmd_feedback, cmd_grade, cmd_report, find_root
from course.grader._synth import build_submission, load_snippet, solutions

__all__ = ["build_class", "main"]

ASSIGNMENTS = ("ps1", "ps2", "ps3")
CLASS_SIZE = 20  # at least: every zoo entry, a blank and a broken one, 4+ correct


def build_class(repo: Path, course: Path) -> dict[str, list[str]]:
    """The demo course and its submissions (only those missing); {assignment: students}."""
    course.mkdir(exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        f"load_subconfig({str(repo / 'nbgrader_config.py')!r})\n"
        f"c = get_config()  # noqa: F821\nc.CourseDirectory.root = {str(course)!r}\n"
        f"c.Execute.timeout = 10\n", encoding="utf-8")
    zoo = repo / "tests" / "zoo"
    roster: dict[str, list[str]] = {}  # assignment -> "studentNN (kind)"
    for a in ASSIGNMENTS:
        if not (course / "source" / a).is_dir():
            shutil.copytree(repo / "source" / a, course / "source" / a)
        (course / "expected").mkdir(exist_ok=True)  # the grader-side expected values
        shutil.copy2(repo / "expected" / f"{a}.json", course / "expected" / f"{a}.json")
        if not (course / "release" / a).is_dir():
            print(f"releasing {a} (nbgrader generate_assignment) ...", flush=True)
            _nbgrader(course, "generate_assignment", a, "--force")  # exits on failure
        source = nbformat.read(course / "source" / a / f"{a}.ipynb", as_version=4)
        answers = solutions(source)
        kinds: list[tuple[str, dict[str, str] | None, bool]] = [
            (f"zoo-{p.stem}", load_snippet(p), True) for p in sorted((zoo / a).glob("*.py"))]
        kinds += [("blank", None, False), ("broken", None, True)]
        kinds += [("correct", None, True)] * max(4, CLASS_SIZE - len(kinds))
        roster[a] = []
        for i, (kind, cells, fill) in enumerate(kinds):
            student = f"student{i + 1:02d}"  # the same class for every assignment
            roster[a].append(f"{student} ({kind})")
            folder = course / "submitted" / student / a
            path = folder / f"{a}.ipynb"
            if path.exists():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            nb = nbformat.read(course / "release" / a / f"{a}.ipynb", as_version=4)
            nb = build_submission(nb, answers if fill else {}, cells, name=f"{student} ({kind})")
            nbformat.write(nb, path)
            if kind == "broken":
                path.write_text(path.read_text()[: len(path.read_text()) // 2])
            (folder / "timestamp.txt").write_text("2026-10-06 12:00:00.000000 UTC")
    return roster


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m course.democlass")
    ap.add_argument("--fresh", action="store_true", help="delete demo_course/ first")
    args = ap.parse_args(argv)
    repo = find_root(Path(__file__).resolve().parent)
    course = repo / "demo_course"
    if args.fresh:
        shutil.rmtree(course, ignore_errors=True)
    roster = build_class(repo, course)
    sizes = ", ".join(f"{a}: {len(s)} students" for a, s in roster.items())
    print(f"Demo class in {course}: {sizes}")
    worst = 0
    for a in ASSIGNMENTS:
        worst = max(worst, cmd_grade(course, a, course / "grades.csv"))
        cmd_feedback(course, a)
        cmd_report(course, a)
    with (course / "grades.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kinds = {(a, s.split()[0]): s.split()[1] for a, names in roster.items() for s in names}
    print("\nGrade table (grades.csv; the kind of submission in brackets):")
    print(f"{'assignment':<11}{'student':<44}{'score':>7}{'max':>6}  outcome")
    for r in sorted(rows, key=lambda r: (r["assignment"], r["student_id"])):
        who = f"{r['student_id']} {kinds.get((r['assignment'], r['student_id']), '')}"
        print(f"{r['assignment']:<11}{who:<44}{r.get('score', ''):>7}"
              f"{r.get('max_score', ''):>6}  {r.get('outcome', '')}")
    print(f"\nGradebook: {course / 'gradebook.db'}\nCSV: {course / 'grades.csv'}\n"
          f"Feedback: {course / 'feedback'}/<student>/<assignment>/\n"
          f"Reports and charts: {course / 'reports'}/\n"
          f"Outcomes: {course / '.grading'}/\nRun again: it regrades nothing unchanged.")
    return worst


if __name__ == "__main__":
    sys.exit(main())
