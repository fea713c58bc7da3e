"""ps3 (distributed mutual exclusion) through the whole nbgrader pipeline, in a temporary course.

One ``course grade ps3`` grades the batch: the instructor's solution, the untouched release
notebook and every file of ``tests/zoo/ps3`` (Ricart–Agrawala with the classic bugs, the
library's reference borrowed, a nondeterministic node, a rebound test helper), declared in
``tests/assignments.py`` and checked by :class:`contract.PipelineContract`. Part B is judged
by the grader replaying each submission's recorded transition table in its own simulator and
explorer (``course.mutex._evidence``); the tests here check what that shows the student.
"""

from __future__ import annotations

import pytest
from assignments import PS3
from contract import Graded, PipelineContract, grade_batch

pytestmark = pytest.mark.slow

A = PS3.id


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_batch(PS3, tmp_path_factory.mktemp(A))


class TestPipeline(PipelineContract):
    spec = PS3


def test_hidden_failures_explain_the_violating_run(graded: Graded) -> None:
    """The student sees why: the kind of violation, the configuration, and for the search
    the shortest schedule, step by step (the phrases: PS3.feedback_says) ..."""
    texts = graded.feedback_texts()
    assert "fairness" in texts["own_counter"] and "deliver" in texts["own_counter"]

    # ... and the failing run drawn (CS timeline and messages) above the verdict.
    def pictures(student: str) -> int:
        page = (graded.course.root / "feedback" / student / A / f"{A}.html").read_text()
        return page.count("data:image/png;base64,")

    assert pictures("own_counter") == pictures("solution") + 1  # one failing cell, one run
