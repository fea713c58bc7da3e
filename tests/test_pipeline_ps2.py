"""ps2 (happens-before and the total order) through the whole nbgrader pipeline, in a
temporary course: the solution, the untouched release, deleted test cells and every file of
``tests/zoo/ps2``, graded by one ``nbgrader autograde``; scores from the gradebook and the
export CSV; feedback searched for hidden test code.
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

pytestmark = pytest.mark.slow

A = "ps2"
#: The designed auto-graded points per test cell (Part A: 3, Part B: 6, Part C: 5).
POINTS = {"ps2_vc_lecture": 1.0, "ps2_vc_hidden": 2.0, "ps2_hb_lecture": 1.0,
          "ps2_hb_hidden": 2.0, "ps2_conc_lecture": 1.0, "ps2_conc_hidden": 2.0,
          "ps2_order_lecture": 1.0, "ps2_order_tiebreak": 2.0, "ps2_order_random": 2.0}
MANUAL_POINTS = 2.0  # Part D's written answer
VISIBLE = {"ps2_vc_lecture", "ps2_hb_lecture", "ps2_conc_lecture", "ps2_order_lecture"}
VECTORS = {"ps2_vc_lecture", "ps2_vc_hidden"}
RELATION = {"ps2_hb_lecture", "ps2_hb_hidden", "ps2_conc_lecture", "ps2_conc_hidden"}
ORDER = {"ps2_order_lecture", "ps2_order_tiebreak", "ps2_order_random"}

#: Zoo file -> the test cells it must fail (scoring 0 there and full marks everywhere else).
EXPECTED_LOSSES: dict[str, set[str]] = {
    # No rule 3: a → f is missed (visible), so concurrent calls a and f concurrent.
    "hb_without_transitivity": RELATION,
    # TS(a) < TS(b) taken for a → b: e → b is claimed (visible).
    "hb_from_lamport": RELATION,
    # Receives don't merge: vectors and everything built on them.
    "vector_no_merge": VECTORS | RELATION,
    # Tie by larger pid: wrong on the lecture's a/e tie already.
    "tiebreak_larger_pid": ORDER,
    # The library's reference, imported or wrapped: nothing.
    "calls_reference": VECTORS | RELATION | ORDER,
    # Pass every visible test, fail hidden ones:
    "concurrent_includes_self": {"ps2_conc_hidden"},
    "vector_sorted_names": {"ps2_vc_hidden"},
    "tiebreak_event_name": {"ps2_order_tiebreak", "ps2_order_random"},
    "tiebreak_process_name": {"ps2_order_tiebreak", "ps2_order_random"},
    "ignores_given_timestamps": {"ps2_order_random"},
    # Ties in the order the timestamps dict happens to list them: the cases vary that order.
    "tiebreak_dict_order": ORDER,
    "tiebreak_listing_order": ORDER,
    # Rebinds the test helpers: every test cell after the rebinding reports nothing.
    "rebinds_grading": RELATION | ORDER,
    # Captures the reference before any guard: absent from the grading kernel, so a stub.
    "captures_reference": RELATION,
    # Silences, rigs or forges the tests: the judge decides from records, nothing is gained.
    "input_transformer": ORDER,
    "rigged_bool": {"ps2_conc_lecture", "ps2_conc_hidden"},
    "forged_records": ORDER,
    # Correct but warns and logs: full marks.
    "warns": set(),
}
PASS_VISIBLE = ["concurrent_includes_self", "vector_sorted_names", "tiebreak_event_name",
                "tiebreak_process_name", "ignores_given_timestamps"]
DELETED = ["ps2_hb_hidden", "ps2_order_lecture"]


@dataclass
class Graded:
    course: Course
    run: Run
    scores: dict[str, dict[str, float]]
    validation: dict[str, dict[str, list[str]]]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    course = Course.create(tmp_path_factory.mktemp(A), [A], timeout=10)
    course.submit("solution", A, course.submission(A, name="solution"))
    course.submit("untouched", A, course.submission(A, fill=False))
    course.submit("deleted_tests", A, course.submission(A, delete=DELETED))
    snippets = zoo(A)
    for name, cells in snippets.items():
        course.submit(name, A, course.submission(A, cells, name=name))
    pending = course.start_validation({n: course.submission(A, snippets[n])
                                       for n in [*PASS_VISIBLE, "tiebreak_larger_pid"]})
    run = course.autograde(A)
    return Graded(course, run, course.scores(A), pending.wait())


def test_every_zoo_file_has_designed_losses() -> None:
    check_zoo_design(A, EXPECTED_LOSSES, POINTS, minimum=6)


def test_one_autograde_call_grades_the_whole_batch(graded: Graded) -> None:
    assert graded.run.args[:2] == ("autograde", A)
    assert graded.run.returncode == 0, graded.run.log[-3000:]
    students = graded.course.students(A)
    assert len(students) == len(EXPECTED_LOSSES) + 3
    assert set(graded.scores) == set(students)
    report = graded.course.report(A)
    for s in students:
        assert not report[s].failed, s  # type: ignore[attr-defined]
        assert report[s].problems == {}, s  # type: ignore[attr-defined]


def test_gradebook_has_the_designed_points(graded: Graded) -> None:
    assert graded.course.max_scores(A) == POINTS


def test_solution_gets_every_autograded_point(graded: Graded) -> None:
    assert graded.scores["solution"] == POINTS


def test_untouched_release_scores_zero_without_crashing(graded: Graded) -> None:
    assert graded.scores["untouched"] == dict.fromkeys(POINTS, 0.0)
    nb = graded.course.autograded("untouched", A)
    errors = error_names(nb)
    assert errors == {"NotImplementedError"}


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_zoo_submission_loses_exactly_its_designed_points(graded: Graded, name: str) -> None:
    assert graded.scores[name] == designed_scores(POINTS, EXPECTED_LOSSES[name])


def test_tie_breaks_other_than_process_id_lose_the_tiebreak_points(graded: Graded) -> None:
    for name in ("tiebreak_larger_pid", "tiebreak_event_name", "tiebreak_process_name"):
        assert graded.scores[name]["ps2_order_tiebreak"] == 0.0, name


def test_some_bugs_pass_every_visible_test_but_fail_hidden_ones(graded: Graded) -> None:
    assert len(PASS_VISIBLE) >= 2
    for name in PASS_VISIBLE:
        assert graded.validation[name] == {}, (name, graded.validation[name])
        assert EXPECTED_LOSSES[name] and not EXPECTED_LOSSES[name] & VISIBLE
    failed = graded.validation["tiebreak_larger_pid"]["failed"]
    assert any("total_order" in line for line in failed), failed


def test_warnings_and_logging_cost_nothing(graded: Graded) -> None:
    assert graded.scores["warns"] == POINTS
    nb = graded.course.autograded("warns", A)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "DeprecationWarning: total_order: deprecated" in text
    assert "total_order: an error-level log line" in text


def test_deleted_test_cells_are_restored_and_run(graded: Graded) -> None:
    assert graded.scores["deleted_tests"] == POINTS
    nb = graded.course.autograded("deleted_tests", A)
    restored = [c.metadata.nbgrader.grade_id for c in nb.cells
                if "was missing from the submission" in c.source]
    assert sorted(restored) == sorted(DELETED)


def test_export_csv_agrees_with_the_gradebook(graded: Graded) -> None:
    rows = check_export(graded.course, A, graded.scores, sum(POINTS.values()) + MANUAL_POINTS)
    assert float(rows[("tiebreak_event_name", A)]["score"]) == sum(POINTS.values()) - 4


def test_hidden_verdicts_show_no_expected_value_and_no_student_output(graded: Graded) -> None:
    students = graded.scores[1] if isinstance(graded.scores.get(1), dict) else graded.scores
    course = graded.course
    assert check_hidden_verdicts_give_nothing_away(course, A, students) >= 5


def test_feedback_has_messages_but_no_hidden_test_code(graded: Graded) -> None:
    texts = check_feedback_hides_tests(graded.course, A, graded.scores, min_hidden=20)
    text = texts["tiebreak_event_name"]
    assert "Wrong total order on tie-break case" in text
    assert "tie-break:" in text  # check_total_order's explanation of the wrong pair
