"""ps2 (happens-before and the total order) through the whole nbgrader pipeline, in a
temporary course: the solution, the untouched release, deleted test cells and every file of
``tests/zoo/ps2`` (declared in ``tests/assignments.py``), graded by one ``course grade``
and checked by :class:`contract.PipelineContract`. The tests here are ps2's own: tie-breaks,
and noise that costs nothing.
"""

from __future__ import annotations

import pytest
from assignments import PS2
from contract import Graded, PipelineContract, grade_batch

pytestmark = pytest.mark.slow

A = PS2.id


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_batch(PS2, tmp_path_factory.mktemp(A))


class TestPipeline(PipelineContract):
    spec = PS2


def test_tie_breaks_other_than_process_id_lose_the_tiebreak_points(graded: Graded) -> None:
    for name in ("tiebreak_larger_pid", "tiebreak_event_name", "tiebreak_process_name"):
        assert graded.scores[name]["ps2_order_tiebreak"] == 0.0, name
    # check_total_order's explanation of the wrong pair reaches the student.
    assert "tie-break:" in graded.feedback_texts()["tiebreak_event_name"]


def test_warnings_and_logging_cost_nothing(graded: Graded) -> None:
    assert graded.scores["warns"] == dict(PS2.points)
    nb = graded.course.autograded("warns", A)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "DeprecationWarning: total_order: deprecated" in text
    assert "total_order: an error-level log line" in text
