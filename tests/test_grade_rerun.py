"""`course grade` on a fresh course, in parallel, and rerun: only new or changed submissions are
graded again (by content), `--force` regrades everything, `--student` one student; the
gradebook's scores and the outcomes stay right throughout. (Sequential and parallel grading
of the same submissions give the same gradebook: tests/test_pipeline_ps1.py, which compares
with the batch it grades anyway.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import Course, nbgrader_env, zoo

pytestmark = pytest.mark.slow

A = "ps1"
FULL = 11.0


def grade(course: Course, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(course.root),
                           "grade", A, "--jobs", "2", *args], cwd=course.root,
                          env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def autograded_now(course: Course) -> set[str]:
    log = (course.root / f"autograde-{A}.log").read_text()
    return set(re.findall(rf"submitted/([^/]+)/{A}", log))


def totals(course: Course) -> dict[str, float]:
    return {s: sum(v.values()) for s, v in course.scores(A).items()}


def test_rerun_grades_only_what_changed(tmp_path: Path) -> None:
    course = Course.create(tmp_path / "c", [A], timeout=10)
    bug = zoo(A)["process_order"]
    for s in ("ann", "bob", "cat"):
        course.submit(s, A, course.submission(A, name=s))
    course.submit("dan", A, course.submission(A, bug, name="dan"))

    first = grade(course)
    assert autograded_now(course) == {"ann", "bob", "cat", "dan"}
    assert totals(course) == {"ann": FULL, "bob": FULL, "cat": FULL, "dan": 6.0}
    assert "grading ps1" in first.stderr  # the progress bar

    again = grade(course, "--quiet")
    assert autograded_now(course) == set()
    assert "Not regraded (unchanged since last graded; --force regrades): ann, bob, cat, dan" \
        in again.stdout
    assert "grading ps1" not in again.stderr
    assert totals(course)["dan"] == 6.0

    course.submit("dan", A, course.submission(A, name="dan"))  # dan resubmits, fixed
    grade(course, "--quiet")
    assert autograded_now(course) == {"dan"}
    assert totals(course)["dan"] == FULL
    outcomes = json.loads((course.root / ".grading" / f"outcomes-{A}.json").read_text())
    assert {o["outcome"] for o in outcomes.values()} == {"graded"} and len(outcomes) == 4

    grade(course, "--quiet", "--force")
    assert autograded_now(course) == {"ann", "bob", "cat", "dan"}
    grade(course, "--quiet", "--force", "--student", "bob")
    assert autograded_now(course) == {"bob"}
    assert totals(course) == dict.fromkeys(("ann", "bob", "cat", "dan"), FULL)
    outcomes = json.loads((course.root / ".grading" / f"outcomes-{A}.json").read_text())
    assert len(outcomes) == 4  # grading one student keeps the others' outcomes


#: File names as each LMS writes them (-> student id, notebook), and names that must not match.
LMS_NAMES = {
    "canvas": {"doeann_1001_555_ps1.ipynb": ("1001", "ps1"),
               "roebob_late_1002_556_ps1-1.ipynb": ("1002", "ps1")},
    "moodle": {"Ann Doe_1001_assignsubmission_file_ps1.ipynb": ("1001", "ps1")},
    "blackboard": {"ps1_jdoe_attempt_2025-10-06-12-00-00_ps1.ipynb": ("jdoe", "ps1")},
}
NOT_LMS = ["notes.txt", "my homework.ipynb", "ps1.ipynb", "doeann_ps1.ipynb"]


@pytest.mark.parametrize("lms", sorted(LMS_NAMES))
def test_lms_patterns_as_nbgrader_applies_them(lms: str) -> None:
    """nbgrader's own FileNameCollectorPlugin (which matches absolute paths) with each
    pattern: the student id and notebook of each LMS name, nothing from stray files."""
    from nbgrader.plugins import FileNameCollectorPlugin

    from course.grader._lms import PATTERNS

    plugin = FileNameCollectorPlugin(named_regexp=PATTERNS[lms])
    for name, (student, nb) in LMS_NAMES[lms].items():
        got = plugin.collect(f"/course/downloaded/ps1/extracted/x/{name}")
        assert got is not None and (got["student_id"], got["file_id"]) == (student, nb), name
    for name in NOT_LMS:
        assert plugin.collect(f"/course/downloaded/ps1/extracted/{name}") is None, name


@pytest.mark.parametrize("lms", ["canvas"])
def test_from_zip_collects_lms_names_and_lists_the_rest(tmp_path: Path, lms: str) -> None:
    """An LMS bulk download: each LMS's file names, a late and a renamed resubmission
    (Canvas), a stray file and a wrongly named notebook, which are listed, not dropped."""
    import zipfile

    import nbformat

    from course.grader._lms import PATTERNS

    course = Course.create(tmp_path / "c", [A], timeout=10)
    good = nbformat.writes(course.submission(A))
    bad = nbformat.writes(course.submission(A, zoo(A)["process_order"]))
    names = {
        "canvas": {"doeann_1001_555_ps1.ipynb": good, "roebob_late_1002_556_ps1-1.ipynb": bad},
        "moodle": {"Ann Doe_1001_assignsubmission_file_ps1.ipynb": good,
                   "Bob Roe_1002_assignsubmission_file_ps1.ipynb": bad},
        "blackboard": {"ps1_1001_attempt_2025-10-06-12-00-00_ps1.ipynb": good,
                       "ps1_1002_attempt_2025-10-07-09-30-00_ps1.ipynb": bad},
    }[lms]
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, text in names.items():
            z.writestr(name, text)
        z.writestr("notes.txt", "stray")
        z.writestr("my homework.ipynb", good)
    assert all(re.match(PATTERNS[lms], f"/x/{n}") for n in names)
    proc = grade(course, "--quiet", "--from-zip", str(archive), "--lms", lms)
    assert "Collected 2 student(s)" in proc.stdout
    listed = proc.stdout.split("NOT COLLECTED: 2 file(s)")[1]
    assert "notes.txt" in listed and "my homework.ipynb" in listed
    assert totals(course) == {"1001": FULL, "1002": 6.0}

