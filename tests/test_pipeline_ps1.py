"""ps1 (Lamport clocks) through the whole nbgrader pipeline, in a temporary course.

One ``course grade ps1`` grades the batch (:func:`contract.grade_batch`): the instructor's
solution, the untouched release notebook, a submission that deleted two test cells, and every
file of ``tests/zoo/ps1`` (buggy, noisy, looping and kernel-killing submissions), as declared
in ``tests/assignments.py``. :class:`contract.PipelineContract` checks what every assignment
must pass; the tests here are ps1's own: noise costs nothing, an infinite loop and a dead
kernel are reported without stopping the batch, the TA report's Markdown and charts, and the
same gradebook from sequential grading.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from assignments import PS1
from contract import Graded, PipelineContract, grade_batch
from pipeline import Course, nbgrader_env

pytestmark = pytest.mark.slow

A = PS1.id
TIMESTAMPS = {"ps1_ts_lecture", "ps1_ts_small", "ps1_ts_random", "ps1_ts_edge"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_batch(PS1, tmp_path_factory.mktemp(A))


class TestPipeline(PipelineContract):
    spec = PS1


def test_warnings_and_logging_cost_nothing(graded: Graded) -> None:
    assert graded.scores["warns"] == dict(PS1.points)
    nb = graded.course.autograded("warns", A)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    for piece in ("DeprecationWarning", "UserWarning", "a log message", "a print to stderr",
                  "a raw write to fd 2"):
        assert piece in text, piece


def test_infinite_loop_is_reported_and_the_rest_graded(graded: Graded) -> None:
    report = graded.course.report(A)["loops_forever"]  # type: ignore[attr-defined]
    assert set(report.problems) >= {"ps1_ts_random", "ps1_ts_edge"}
    assert all("timed out" in why for why in report.problems.values())
    log = graded.course.autograde_log(A)
    assert f"(ps1_ts_random) timed out after {PS1.timeout} s" in log
    report = graded.run.log.split("\nloops_forever: ", 1)[1].split("\n")
    assert report[0].startswith("6 / 11 auto-graded points"), report
    assert "    ps1_ts_random: timed out (infinite loop?)" in report[1:3], report


def test_dead_kernel_is_reported_and_the_rest_graded(graded: Graded) -> None:
    report = graded.course.report(A)["kills_kernel"]  # type: ignore[attr-defined]
    assert report.problems["ps1_ts_lecture"] == "killed the kernel"
    assert {c for c, why in report.problems.items() if why.startswith("not run")} >= (
        TIMESTAMPS - {"ps1_ts_lecture"})
    log = graded.course.autograde_log(A)
    assert re.search(r"kills_kernel/ps1/ps1: the kernel died in cell \d+ \(ps1_ts_lecture\)", log)
    assert re.search(r"\nkills_kernel: 4 / 11 auto-graded points  \[kernel died\]\n"
                     r"    the kernel died in cell \d+ \(ps1_ts_lecture\)\n"
                     r"    ps1_ts_lecture: killed the kernel", graded.run.log), graded.run.log
    assert not report.failed
    nb = graded.course.autograded("kills_kernel", A)
    lecture = next(c for c in nb.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "ps1_ts_lecture")
    assert "the kernel died while running this cell" in lecture.outputs[-1].evalue


def test_outcomes_name_the_loop_and_the_dead_kernel(graded: Graded) -> None:
    assert graded.course_grade_rows is not None
    outcome = {r["student_id"]: r["outcome"] for r in graded.course_grade_rows}
    assert outcome["solution"] == "graded"
    assert outcome["kills_kernel"] == "kernel died"
    assert outcome["loops_forever"] == "timed out"
    assert float(next(r for r in graded.course_grade_rows
                      if r["student_id"] == "receive_only_if_behind")["score"]) == 4.0


def test_report_markdown_and_charts(graded: Graded) -> None:
    """`course report ps1` (the command): pass rates per cell, the zoo's typical failure
    grouped, manual grading pending for everyone, two charts in one HTML page. (The numbers
    themselves: PipelineContract.test_report_counts_what_the_gradebook_says.)"""
    from course.grader._report import build_report

    root = graded.course.root
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(root), "report",
                           A], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    n = len(graded.scores)
    assert f"# {A}: {n} graded submission(s)" in md
    for cell, points in PS1.points.items():
        passed = sum(1 for s in graded.scores.values() if s[cell] >= points)
        assert f"| {cell} | {points:g} | {passed / n:.0%} |" in md, cell
    rep = build_report(root, A, f"sqlite:///{root / 'gradebook.db'}")
    top = rep.questions["ps1_ts_random"].failures.most_common(1)[0][0]
    assert top.startswith("AssertionError: Wrong Lamport timestamps on random trace"), top
    assert f"`{top}`" in md
    assert f"Manual grading pending ({n - 1} students" in md
    pngs = sorted((root / "reports").glob(f"{A}-*.png"))
    assert [p.name for p in pngs] == [f"{A}-pass-rates.png", f"{A}-scores.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = (root / "reports" / f"{A}-report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page


def test_parallel_grading_gives_the_same_gradebook_as_sequential(
        graded: Graded, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Six of the batch's submissions (the very files) graded again in a fresh course by one
    nbgrader process (--pool processes --jobs 1) get exactly the scores per cell and the
    outcomes that the batch's `course grade` gave them: the dask pool of its default
    cores + 1 workers (three on two cores: more than the cores, so they contend for the
    SQLite gradebook), with the rest of the batch in the same run. The pool and SQLite's
    locking lose nothing. tests/test_cluster.py does the same for a cluster of worker
    processes writing PostgreSQL."""
    from course.cli import default_jobs

    # The batch's run: `course grade ps1`, no --pool or --jobs (dask, default_jobs workers).
    assert graded.run.args[-2:] == ("grade", A) and "--jobs" not in graded.run.args
    assert default_jobs() > (os.cpu_count() or 1)
    six = ["solution", "untouched", "process_order", "kills_kernel", "shared_clock",
           "no_tick_on_send"]
    course = Course.create(tmp_path_factory.mktemp("sequential"), [A], timeout=PS1.timeout)
    for name in six:
        course.submit(name, A, graded.course.submitted(name, A))
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(course.root),
                           "grade", A, "--quiet", "--jobs", "1", "--pool", "processes"],
                          cwd=course.root, env=nbgrader_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = []
    for c in (course, graded.course):
        outcomes = json.loads((c.root / ".grading" / f"outcomes-{A}.json").read_text())
        scores = c.scores(A)
        results.append(({s: scores[s] for s in six},
                        {s: (outcomes[s]["outcome"], outcomes[s]["detail"]) for s in six}))
    assert set(course.scores(A)) == set(six)
    assert results[0] == results[1]
    assert len(results[0][0]) == 6 and results[0][1]["kills_kernel"][0] == "kernel died"
