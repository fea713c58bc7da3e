"""The pipeline contract: what every declared assignment (``tests/assignments.py``) passes.

``tests/test_pipeline_<id>.py`` grades the assignment's batch ONCE (a module fixture
``graded``, usually :func:`grade_batch`) and subclasses :class:`PipelineContract`::

    from assignments import PS9
    from contract import Graded, PipelineContract, grade_batch

    pytestmark = pytest.mark.slow

    @pytest.fixture(scope="module")
    def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
        return grade_batch(PS9, tmp_path_factory.mktemp(PS9.id))

    class TestPipeline(PipelineContract):
        spec = PS9

The batch: the instructor's solution, the untouched release, a ``deleted_tests`` submission
when the declaration names cells to delete, and every zoo entry, graded by ONE
``course grade`` (the TA command: autograde, export, report). One file per assignment keeps
``make test``'s ``--dist loadfile`` putting each assignment's grading on one worker, and the
others on the other.

The contract: the gradebook holds the designed points; the solution gets all of them, the
untouched release none and nothing crashes; each zoo entry loses exactly its designed cells;
the bugs of ``pass_visible`` pass every visible test (also in nbgrader's Validator) and lose
hidden ones; a restored deleted test cell is run; every hidden verdict agrees with the score
and gives away no expected value nor the student's output; feedback has the tests' messages
but no hidden test code; the export CSV and the report agree with the gradebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import pytest
from assignments import Assignment
from pipeline import (
    Course,
    Run,
    check_export,
    check_feedback_hides_tests,
    check_hidden_verdicts_give_nothing_away,
    error_names,
    hidden_only_lines,
    zoo,
)

from course.cli import read_export

#: Columns ``course grade`` adds to nbgrader's export.
GRADE_COLUMNS = ("outcome", "outcome_detail", "sandboxed", "flags")
DELETED = "deleted_tests"


@dataclass
class Graded:
    """A graded batch: the course, the one grading run, the gradebook's scores."""

    spec: Assignment
    course: Course
    run: Run
    scores: dict[str, dict[str, float]]
    #: nbgrader's Validator on the ``pass_visible`` entries and the ``caught_by_validate``
    #: one ({} for a notebook whose visible tests pass), None when not run.
    validation: dict[str, dict[str, list[str]]] | None = None
    #: The grades.csv ``course grade`` wrote (read before anything re-exports), or None when
    #: the batch was graded by a bare ``nbgrader autograde``.
    course_grade_rows: list[dict[str, str]] | None = None
    _feedback: dict[str, str] = field(default_factory=dict)

    @property
    def via_course_grade(self) -> bool:
        return self.run.args[-2:] == ("grade", self.spec.id)

    @property
    def nbgrader_log(self) -> str:
        """nbgrader's own log of the grading run."""
        return self.course.autograde_log(self.spec.id) if self.via_course_grade else self.run.log

    def feedback_texts(self) -> dict[str, str]:
        """Feedback generated once; each page's visible text, checked for hidden test lines
        (:func:`pipeline.check_feedback_hides_tests`)."""
        if not self._feedback:
            self._feedback.update(check_feedback_hides_tests(self.course, self.spec.id,
                                                             self.scores))
        return self._feedback

    @cached_property
    def expected(self) -> dict[str, Any]:
        """The grader-side expected values of the (single) notebook: {grade_id: cell}."""
        a = self.spec.id
        data = json.loads((self.course.root / "expected" / f"{a}.json").read_text())
        return dict(data["notebooks"][self.course.notebook_ids(a)[0]]["cells"])


def prepare_batch(spec: Assignment, root: Path, *, entries: list[str] | None = None,
                  untouched: bool = True, timeout: int | None = None) -> Course:
    """A test course with the solution, the untouched release (``untouched``), the
    ``deleted_tests`` submission (when declared) and the zoo ``entries`` (default: all)
    submitted."""
    a = spec.id
    course = Course.create(root, [a], timeout=timeout or spec.timeout)
    course.submit("solution", a, course.submission(a, name="solution"))
    if untouched:
        course.submit("untouched", a, course.submission(a, fill=False))
    snippets = zoo(a)
    names = sorted(snippets) if entries is None else entries
    if entries is None and spec.deleted:
        course.submit(DELETED, a, course.submission(a, delete=spec.deleted))
    for name in names:
        course.submit(name, a, course.submission(a, snippets[name], name=name))
    return course


def grade_batch(spec: Assignment, root: Path) -> Graded:
    """:func:`prepare_batch` with everything, Validate on the declared entries in the
    background, and ONE ``course grade`` of the batch."""
    a = spec.id
    course = prepare_batch(spec, root)
    pending = None
    if spec.caught_by_validate:
        snippets = zoo(a)
        names = [*sorted(spec.pass_visible), spec.caught_by_validate[0]]
        pending = course.start_validation({n: course.submission(a, snippets[n])
                                           for n in names})
    run = course.grade(a)
    rows = read_export(course.root / "grades.csv") if (course.root / "grades.csv").is_file() \
        else None
    return Graded(spec, course, run, course.scores(a),
                  pending.wait() if pending else None, rows)


def students_of(spec: Assignment) -> set[str]:
    """The batch :func:`prepare_batch` submits by default."""
    return {"solution", "untouched", *spec.zoo, *([DELETED] if spec.deleted else [])}


class PipelineContract:
    """The tests every assignment's graded batch passes (needs a module fixture ``graded``)."""

    spec: ClassVar[Assignment]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "entry" in metafunc.fixturenames:
            metafunc.parametrize("entry", sorted(self.spec.zoo))

    def test_one_grading_run_grades_the_whole_batch(self, graded: Graded) -> None:
        a, spec = self.spec.id, self.spec
        assert graded.run.returncode == 0, graded.run.log[-3000:]
        students = graded.course.students(a)
        assert set(students) == students_of(spec) == set(graded.scores)
        assert graded.nbgrader_log.count("Autograding ") == len(students)
        report = graded.course.report(a)
        for s in students:
            assert not report[s].failed, s  # type: ignore[attr-defined]
            graded.course.autograded(s, a)  # exists
            problems = report[s].problems  # type: ignore[attr-defined]
            assert bool(problems) == (s in spec.problems), (s, problems)

    def test_gradebook_has_the_designed_points(self, graded: Graded) -> None:
        assert graded.course.max_scores(self.spec.id) == dict(self.spec.points)

    def test_solution_gets_every_autograded_point(self, graded: Graded) -> None:
        assert graded.scores["solution"] == dict(self.spec.points)

    def test_untouched_release_scores_zero_without_crashing(self, graded: Graded) -> None:
        a = self.spec.id
        assert graded.scores["untouched"] == dict.fromkeys(self.spec.points, 0.0)
        assert graded.course.report(a)["untouched"].problems == {}  # type: ignore[attr-defined]
        errors = error_names(graded.course.autograded("untouched", a))
        assert "NotImplementedError" in errors and errors <= self.spec.untouched_errors, errors

    def test_zoo_entry_loses_exactly_its_designed_points(self, graded: Graded,
                                                         entry: str) -> None:
        assert graded.scores[entry] == self.spec.designed_scores(entry)

    def test_some_bugs_pass_every_visible_test_but_fail_hidden_ones(self,
                                                                    graded: Graded) -> None:
        spec = self.spec
        for name in sorted(spec.pass_visible):
            scores = graded.scores[name]
            assert all(scores[c] == spec.points[c] for c in spec.visible), (name, scores)
            assert sum(scores.values()) < spec.auto_total, name
        if spec.caught_by_validate is None:
            assert graded.validation is None
            return
        assert graded.validation is not None
        for name in sorted(spec.pass_visible):  # what the student's Validate button says
            assert graded.validation[name] == {}, (name, graded.validation[name])
        name, text = spec.caught_by_validate  # ... while it does catch a visible bug
        failed = graded.validation[name]["failed"]
        assert any(text in line for line in failed), (name, failed)

    def test_deleted_test_cells_are_restored_and_run(self, graded: Graded) -> None:
        a, deleted = self.spec.id, sorted(self.spec.deleted)
        for student in graded.scores:
            nb = graded.course.autograded(student, a)
            restored = sorted(c.metadata.nbgrader.grade_id for c in nb.cells
                              if "was missing from the submission" in c.source)
            assert restored == (deleted if student == DELETED else []), student
        if deleted:
            assert graded.scores[DELETED] == dict(self.spec.points)
            nb = graded.course.autograded(DELETED, a)
            ran = [c.execution_count for c in nb.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") in deleted]
            assert len(ran) == len(deleted) and all(ran)

    def test_hidden_verdicts_agree_with_the_scores_and_give_nothing_away(
            self, graded: Graded) -> None:
        """Every hidden test cell shows only the judge's verdict, one wrong verdict per lost
        hidden cell, none naming an expected value."""
        spec = self.spec
        # expected/ is authored from the source notebook: optional parts included
        assert {g for g, c in graded.expected.items() if c["hidden"]} == spec.source_hidden
        lost = sum(1 for scores in graded.scores.values() for c in spec.hidden
                   if scores[c] < spec.points[c])
        assert lost > 0
        seen = check_hidden_verdicts_give_nothing_away(graded.course, spec.id, graded.scores)
        assert seen == lost

    def test_feedback_has_messages_but_no_hidden_test_code(self, graded: Graded) -> None:
        a, course = self.spec.id, graded.course
        texts = graded.feedback_texts()
        secret = hidden_only_lines(course.source_notebook(a), course.release_notebook(a))
        # The autograded notebooks (instructor-only) do contain the hidden tests ...
        assert any(line in c.source for c in course.autograded("solution", a).cells
                   for line in secret)
        for student, text in texts.items():
            assert "hidden tests ran here" in text, student
        # ... and students still get the explanation the tests wrote for them.
        for name, phrase in self.spec.feedback_says.items():
            assert phrase in texts[name], (name, phrase)

    def test_export_csv_agrees_with_the_gradebook(self, graded: Graded) -> None:
        spec = self.spec
        rows = check_export(graded.course, spec.id, graded.scores, spec.total)
        assert float(rows[("solution", spec.id)]["score"]) == spec.auto_total
        if not graded.via_course_grade:
            assert graded.course_grade_rows is None
            return
        # `course grade` wrote nbgrader's export plus each submission's outcome and flags.
        from_course_grade = graded.course_grade_rows
        assert from_course_grade is not None
        assert [{k: v for k, v in r.items() if k not in GRADE_COLUMNS}
                for r in from_course_grade] == list(rows.values())
        outcomes = {r["student_id"]: r["outcome"] for r in from_course_grade}
        not_graded = {s: o for s, o in outcomes.items() if o != "graded"}
        assert set(not_graded) == set(spec.problems), not_graded
        assert {r["sandboxed"] for r in from_course_grade} == {"true"}
        flagged = {r["student_id"] for r in from_course_grade if r["flags"]}
        assert flagged == set(spec.flagged), ("flagged", sorted(flagged))

    def test_report_counts_what_the_gradebook_says(self, graded: Graded) -> None:
        """``course report``'s numbers: pass rates and one counted failure per lost cell
        (recomputed from the scores), written answers pending for every filled notebook."""
        from course.grader._report import build_report

        a, root, scores = self.spec.id, graded.course.root, graded.scores
        rep = build_report(root, a, f"sqlite:///{root / 'gradebook.db'}")
        assert set(rep.totals) == set(scores)
        for cell, points in self.spec.points.items():
            question = rep.questions[cell]
            passed = sum(1 for s in scores.values() if s[cell] >= points)
            assert question.pass_rate == pytest.approx(passed / len(scores)), cell
            lost = sum(1 for s in scores.values() if s[cell] < points)
            assert sum(question.failures.values()) == lost, cell
        # nbgrader scores an untouched written answer 0 without asking for manual grading.
        pending = set(scores) - {"untouched"} if self.spec.manual else set()
        assert set(rep.manual_pending) == pending
