"""ps1 (Lamport clocks) through the whole nbgrader pipeline, in a temporary course.

One ``nbgrader autograde`` grades the batch: the instructor's solution, the untouched release
notebook, a submission that deleted two test cells, and every file of ``tests/zoo/ps1``
(buggy, noisy, looping and kernel-killing submissions). Scores come from the gradebook and
the ``nbgrader export`` CSV; feedback is generated and searched for hidden test code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from pipeline import (
    Course,
    Run,
    check_export,
    check_feedback_hides_tests,
    check_hidden_verdicts_give_nothing_away,
    check_zoo_design,
    designed_scores,
    error_names,
    hidden_only_lines,
    zoo,
)

from course.cli import read_export

pytestmark = pytest.mark.slow

A = "ps1"
#: The designed auto-graded points per test cell (Part A: 4, Part B: 7).
POINTS = {"ps1_clock_tick_send": 1.0, "ps1_clock_receive": 1.0, "ps1_clock_hidden": 2.0,
          "ps1_ts_lecture": 1.0, "ps1_ts_small": 1.0, "ps1_ts_random": 3.0, "ps1_ts_edge": 2.0}
MANUAL_POINTS = 2.0  # Part C's written answer
VISIBLE = {"ps1_clock_tick_send", "ps1_clock_receive", "ps1_ts_lecture", "ps1_ts_small"}
CLOCK = {"ps1_clock_tick_send", "ps1_clock_receive", "ps1_clock_hidden"}
TIMESTAMPS = {"ps1_ts_lecture", "ps1_ts_small", "ps1_ts_random", "ps1_ts_edge"}

#: Zoo file -> the test cells it must fail (scoring 0 there and full marks everywhere else).
EXPECTED_LOSSES: dict[str, set[str]] = {
    # receive() wrong on the lecture's example: every receive-dependent cell fails.
    "max_without_plus_one": (CLOCK | TIMESTAMPS) - {"ps1_clock_tick_send"},
    "receive_ignores_message": (CLOCK | TIMESTAMPS) - {"ps1_clock_tick_send"},
    # send() does not tick: the visible receive test also sends once after receiving.
    "no_tick_on_send": CLOCK | TIMESTAMPS,
    # Pass every visible test, fail hidden ones.
    "receive_only_if_behind": {"ps1_clock_hidden", "ps1_ts_random", "ps1_ts_edge"},
    "process_order": {"ps1_ts_random", "ps1_ts_edge"},
    # One clock for everyone: the class is fine, the trace timestamps are not.
    "shared_clock": TIMESTAMPS,
    # The library's reference, imported or wrapped: nothing.
    "calls_reference": CLOCK | TIMESTAMPS,
    # Hangs only on traces with a message to an earlier-listed process (hidden tests).
    "loops_forever": {"ps1_ts_random", "ps1_ts_edge"},
    # Dies in the first Part B test: Part A keeps its points, Part B gets nothing.
    "kills_kernel": TIMESTAMPS,
    # Correct but writes warnings, log lines and raw fd-2 output: full marks.
    "warns": set(),
}
PASS_VISIBLE = ["receive_only_if_behind", "process_order"]
# Per-cell limit in the test course: the slowest correct cell takes ~0.5 s here; 10 s leaves
# room for a loaded CI machine while the looping submission still costs only 2 x 10 s.
TIMEOUT = 10
DELETED = ["ps1_clock_receive", "ps1_ts_random"]


@dataclass
class Graded:
    course: Course
    run: Run
    scores: dict[str, dict[str, float]]
    validation: dict[str, dict[str, list[str]]]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    course = Course.create(tmp_path_factory.mktemp(A), [A], timeout=TIMEOUT)
    course.submit("solution", A, course.submission(A, name="solution"))
    course.submit("untouched", A, course.submission(A, fill=False))
    course.submit("deleted_tests", A, course.submission(A, delete=DELETED))
    snippets = zoo(A)
    for name, cells in snippets.items():
        course.submit(name, A, course.submission(A, cells, name=name))
    # The student's view (visible tests only), in the background while the batch grades.
    pending = course.start_validation({n: course.submission(A, snippets[n])
                                       for n in [*PASS_VISIBLE, "max_without_plus_one"]})
    run = course.grade(A)  # `course grade ps1`: one nbgrader autograde + export + report
    return Graded(course, run, course.scores(A), pending.wait())


def full() -> dict[str, float]:
    return dict(POINTS)


def test_every_zoo_file_has_designed_losses() -> None:
    check_zoo_design(A, EXPECTED_LOSSES, POINTS, minimum=6)


def test_one_autograde_call_grades_the_whole_batch(graded: Graded) -> None:
    assert graded.run.args[-2:] == ("grade", A)
    assert graded.run.returncode == 0, graded.run.log[-3000:]
    log = graded.course.autograde_log(A)
    assert log.count("Autograding ") == len(graded.scores)  # one run saw every submission
    students = graded.course.students(A)
    assert len(students) == len(EXPECTED_LOSSES) + 3
    assert set(graded.scores) == set(students)
    report = graded.course.report(A)
    for s in students:
        assert not report[s].failed, s  # type: ignore[attr-defined]
        graded.course.autograded(s, A)  # exists


def test_gradebook_has_the_designed_points(graded: Graded) -> None:
    assert graded.course.max_scores(A) == POINTS


def test_solution_gets_every_autograded_point(graded: Graded) -> None:
    assert graded.scores["solution"] == full()


def test_untouched_release_scores_zero_without_crashing(graded: Graded) -> None:
    assert graded.scores["untouched"] == dict.fromkeys(POINTS, 0.0)
    assert graded.course.report(A)["untouched"].problems == {}  # type: ignore[attr-defined]
    nb = graded.course.autograded("untouched", A)
    errors = error_names(nb)
    assert errors == {"NotImplementedError"}


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_zoo_submission_loses_exactly_its_designed_points(graded: Graded, name: str) -> None:
    assert graded.scores[name] == designed_scores(POINTS, EXPECTED_LOSSES[name])


def test_some_bugs_pass_every_visible_test_but_fail_hidden_ones(graded: Graded) -> None:
    assert len(PASS_VISIBLE) >= 2
    for name in PASS_VISIBLE:
        assert graded.validation[name] == {}, (name, graded.validation[name])
        assert EXPECTED_LOSSES[name] and not EXPECTED_LOSSES[name] & VISIBLE
        assert sum(graded.scores[name].values()) < sum(POINTS.values())
    # ... while the Validator does catch a bug that the visible tests cover.
    failed = graded.validation["max_without_plus_one"]["failed"]
    assert any("receive()" in line for line in failed), failed


def test_warnings_and_logging_cost_nothing(graded: Graded) -> None:
    assert graded.scores["warns"] == full()
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
    assert f"(ps1_ts_random) timed out after {TIMEOUT} s" in log
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


def test_deleted_test_cells_are_restored_and_run(graded: Graded) -> None:
    assert graded.scores["deleted_tests"] == full()
    nb = graded.course.autograded("deleted_tests", A)
    restored = [c.metadata.nbgrader.grade_id for c in nb.cells
                if "was missing from the submission" in c.source]
    assert sorted(restored) == sorted(DELETED)
    ran = [c.execution_count for c in nb.cells
           if c.metadata.get("nbgrader", {}).get("grade_id") in DELETED]
    assert len(ran) == len(DELETED) and all(ran)


def test_export_csv_agrees_with_the_gradebook(graded: Graded) -> None:
    assert "Grades exported to" in graded.run.log
    from_course_grade = read_export(graded.course.root / "grades.csv")
    rows = check_export(graded.course, A, graded.scores, sum(POINTS.values()) + MANUAL_POINTS)
    # `course grade` wrote nbgrader's export plus each submission's outcome and flags.
    extra = ("outcome", "outcome_detail", "sandboxed", "flags")
    assert [{k: v for k, v in r.items() if k not in extra} for r in from_course_grade] == (
        list(rows.values()))
    by_student = {r["student_id"]: r for r in from_course_grade}
    assert by_student["solution"]["outcome"] == "graded"
    assert by_student["kills_kernel"]["outcome"] == "kernel died"
    assert by_student["loops_forever"]["outcome"] == "timed out"
    assert {r["sandboxed"] for r in from_course_grade} == {"true"}
    assert {r["flags"] for r in from_course_grade} == {""}  # honest and buggy work: no flag
    assert float(rows[("solution", A)]["score"]) == sum(POINTS.values())
    assert float(rows[("receive_only_if_behind", A)]["score"]) == 4.0


def test_hidden_verdicts_show_no_expected_value_and_no_student_output(graded: Graded) -> None:
    students = graded.scores[1] if isinstance(graded.scores.get(1), dict) else graded.scores
    course = graded.course
    assert check_hidden_verdicts_give_nothing_away(course, A, students) >= 5


def test_feedback_has_messages_but_no_hidden_test_code(graded: Graded) -> None:
    course = graded.course
    texts = check_feedback_hides_tests(course, A, graded.scores, min_hidden=20)
    secret_all = hidden_only_lines(course.source_notebook(A), course.release_notebook(A))
    # The autograded notebooks (instructor-only) do contain the hidden tests ...
    assert any(line in c.source for c in course.autograded("solution", A).cells
               for line in secret_all)
    for text in texts.values():
        assert "hidden tests ran here" in text
    # ... and students still get the explanation the hidden test wrote for them.
    assert "Wrong Lamport timestamps on random trace" in texts["process_order"]
    assert "break the clock condition" in texts["receive_only_if_behind"]


def test_report_counts_what_the_gradebook_says(graded: Graded) -> None:
    """`course report ps1`: pass rates recomputed here from the scores, the zoo's typical
    failure grouped, manual grading pending for everyone, two charts in one HTML page."""
    import subprocess
    import sys

    root = graded.course.root
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(root), "report",
                           A], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    n = len(graded.scores)
    assert f"# {A}: {n} graded submission(s)" in md
    for cell, points in POINTS.items():
        passed = sum(1 for s in graded.scores.values() if s[cell] >= points)
        assert f"| {cell} | {points:g} | {passed / n:.0%} |" in md, cell
    from course.grader._report import build_report

    rep = build_report(root, A, f"sqlite:///{root / 'gradebook.db'}")
    for cell, points in POINTS.items():  # every lost cell has exactly one failure counted
        lost = sum(1 for sc in graded.scores.values() if sc[cell] < points)
        assert sum(rep.questions[cell].failures.values()) == lost, cell
    top = rep.questions["ps1_ts_random"].failures.most_common(1)[0][0]
    assert top.startswith("AssertionError: Wrong Lamport timestamps on random trace"), top
    assert f"`{top}`" in md
    # nbgrader scores an untouched written answer 0 without asking for manual grading.
    assert set(rep.manual_pending) == set(graded.scores) - {"untouched"}
    assert f"Manual grading pending ({n - 1} students" in md
    pngs = sorted((root / "reports").glob(f"{A}-*.png"))
    assert [p.name for p in pngs] == [f"{A}-pass-rates.png", f"{A}-scores.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    page = (root / "reports" / f"{A}-report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page
