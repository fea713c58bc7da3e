"""ps3 (distributed mutual exclusion) through the whole nbgrader pipeline, in a temporary course.

One ``course grade ps3`` grades the batch: the instructor's solution, the untouched release
notebook and every file of ``tests/zoo/ps3`` (Ricart–Agrawala with the classic bugs, the
library's reference borrowed, a nondeterministic node, a rebound test helper). Part B is
judged by the grader replaying each submission's recorded transition table in its own
simulator and explorer (``course.mutex._evidence``).
"""

from __future__ import annotations

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
    zoo,
)

from course.cli import read_export

pytestmark = pytest.mark.slow

A = "ps3"
POINTS = {"ps3_measure_visible": 1.0, "ps3_measure_hidden": 1.0, "ps3_ra_two": 1.0,
          "ps3_ra_three": 1.0, "ps3_ra_seeds": 4.0, "ps3_ra_exhaustive": 4.0,
          "ps3_costs": 1.0, "ps3_costs_hidden": 1.0}
MANUAL_POINTS = 3.0  # the crash explanation (2) and the comparison (1)
VISIBLE = {"ps3_measure_visible", "ps3_ra_two", "ps3_ra_three", "ps3_costs"}
B = {"ps3_ra_two", "ps3_ra_three", "ps3_ra_seeds", "ps3_ra_exhaustive"}
C = {"ps3_costs", "ps3_costs_hidden"}
HIDDEN_B = {"ps3_ra_seeds", "ps3_ra_exhaustive"}

#: Zoo file -> the test cells it must fail. Part C measures the student's own class, so a
#: class that never lets anyone in (or is not the student's) loses C too.
EXPECTED_LOSSES: dict[str, set[str]] = {
    # Unsafe: two processes in the CS together.
    "reply_in_cs": B - {"ps3_ra_three"},  # the 3-process seeds happen not to show it
    "no_pid_tiebreak": B,
    "enters_one_early": B,
    "reply_before_recording": B,
    "pids_only": B - {"ps3_ra_two"},  # safe for 2 processes, not for 3
    # Unfair: a later request is served first.
    "comparison_reversed": B,
    "own_counter": {"ps3_ra_exhaustive"},  # passes every visible test and every seed
    # Not live: someone waits forever.
    "defers_when_idle": HIDDEN_B,  # passes every visible test
    "deferred_never_sent": B | C,
    "stale_clock": B | C,
    # Not judgeable: the behaviour depends on a global counter.
    "nondeterministic": B - {"ps3_ra_two"},
    # Not the student's code, or no record at all.
    "subclasses_reference": B | C,
    "returns_reference": B | C,
    "rebinds_mutex_case": B | C,
}
PASS_VISIBLE = ["own_counter", "defers_when_idle"]
TIMEOUT = 60


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
    snippets = zoo(A)
    for name, cells in snippets.items():
        course.submit(name, A, course.submission(A, cells, name=name))
    pending = course.start_validation({n: course.submission(A, snippets[n])
                                       for n in [*PASS_VISIBLE, "enters_one_early"]})
    run = course.grade(A)
    return Graded(course, run, course.scores(A), pending.wait())


def test_every_zoo_file_has_designed_losses() -> None:
    check_zoo_design(A, EXPECTED_LOSSES, POINTS, minimum=10)


def test_the_batch_is_graded_and_every_submission_has_an_outcome(graded: Graded) -> None:
    assert graded.run.returncode == 0, graded.run.log[-3000:]
    assert set(graded.scores) == set(graded.course.students(A))
    assert len(graded.scores) == len(EXPECTED_LOSSES) + 2
    assert graded.course.max_scores(A) == POINTS


def test_solution_gets_every_autograded_point(graded: Graded) -> None:
    assert graded.scores["solution"] == POINTS


def test_untouched_release_scores_zero_without_crashing(graded: Graded) -> None:
    assert graded.scores["untouched"] == dict.fromkeys(POINTS, 0.0)
    assert graded.course.report(A)["untouched"].problems == {}  # type: ignore[attr-defined]
    assert error_names(graded.course.autograded("untouched", A)) == {"NotImplementedError"}


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_zoo_submission_loses_exactly_its_designed_points(graded: Graded, name: str) -> None:
    assert graded.scores[name] == designed_scores(POINTS, EXPECTED_LOSSES[name])


def test_some_bugs_pass_every_visible_test_but_fail_hidden_ones(graded: Graded) -> None:
    for name in PASS_VISIBLE:
        assert graded.validation[name] == {}, (name, graded.validation[name])
        assert EXPECTED_LOSSES[name] and not EXPECTED_LOSSES[name] & VISIBLE
    failed = graded.validation["enters_one_early"]["failed"]
    assert any("safety" in line for line in failed), failed


def test_hidden_failures_explain_the_violating_run(graded: Graded) -> None:
    """The student sees why: the kind of violation, the configuration, and for the search
    the shortest schedule, step by step."""
    texts = check_feedback_hides_tests(graded.course, A, graded.scores, min_hidden=10)
    assert "fails under some delivery order" in texts["own_counter"]
    assert "fairness" in texts["own_counter"] and "deliver" in texts["own_counter"]
    assert "liveness" in texts["defers_when_idle"]
    assert "does not behave as a function of its state" in texts["nondeterministic"]
    assert "did not complete" in texts["rebinds_mutex_case"]
    # ... and the failing run drawn (CS timeline and messages) above the verdict.
    def pictures(student: str) -> int:
        page = (graded.course.root / "feedback" / student / A / f"{A}.html").read_text()
        return page.count("data:image/png;base64,")

    assert pictures("own_counter") == pictures("solution") + 1  # one failing cell, one run


def test_borrowed_reference_and_rebound_helper_score_nothing_on_part_b(graded: Graded) -> None:
    texts = check_feedback_hides_tests(graded.course, A, graded.scores, min_hidden=10)
    assert "the course library" in texts["subclasses_reference"]
    assert "the course library" in texts["returns_reference"]
    flags = {r["student_id"]: r["flags"] for r in read_export(graded.course.root / "grades.csv")}
    assert flags["rebinds_mutex_case"]  # the judge's tamper report names the rebound helper
    assert not flags["solution"] and not flags["own_counter"]


def test_hidden_verdicts_show_no_expected_value_and_no_student_output(graded: Graded) -> None:
    assert check_hidden_verdicts_give_nothing_away(graded.course, A, graded.scores) >= 5


def test_export_csv_agrees_with_the_gradebook(graded: Graded) -> None:
    rows = check_export(graded.course, A, graded.scores, sum(POINTS.values()) + MANUAL_POINTS)
    assert float(rows[("solution", A)]["score"]) == sum(POINTS.values())
