"""The grading protocol against students who attack it from inside their kernel (ps1).

One ``course grade`` (sandboxed, both cores) grades the instructor's solution beside every
attack of ``tests/protocol_attacks.py``. Each attack must score exactly the points of what it
really solved (no inflation), carry the tamper flags it should, and learn nothing: no hidden
test code, hidden input or expected value in its feedback or its autograded notebook's hidden
cells. The solution, in the same batch, gets full marks and no flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from pipeline import (
    Course,
    Run,
    check_hidden_verdicts_give_nothing_away,
    hidden_only_lines,
    html_text,
)
from protocol_attacks import ATTACKS, Attack

from course.grader import sandbox_problem

pytestmark = pytest.mark.slow

A = "ps1"
FULL = 11.0


@dataclass
class Batch:
    course: Course
    run: Run
    outcomes: dict[str, dict[str, object]]
    scores: dict[str, dict[str, float]]
    feedback: dict[str, str]


def _submission(course: Course, attack: Attack) -> object:
    release = course.release_notebook(A)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    solutions = course.solutions(A)
    cells = {}
    for gid in ("lamport_clock", "lamport_timestamps"):
        answer = solutions[gid] if gid in attack.solve else stubs[gid]
        # After the answer: an attack that defines names replaces the stub's.
        cells[gid] = (f"{answer}\n\n{attack.code.strip()}\n" if gid in attack.cells
                      else answer)
    return course.submission(A, cells, fill=False)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    if sandbox_problem() is not None:
        pytest.fail(f"the grading sandbox cannot run here: {sandbox_problem()}")
    course = Course.create(tmp_path_factory.mktemp("protocol"), [A], timeout=10)
    course.submit("solution", A, course.submission(A))
    for attack in ATTACKS:
        course.submit(attack.name, A, _submission(course, attack))  # type: ignore[arg-type]
    run = course.grade(A)
    outcomes = json.loads((course.root / ".grading" / f"outcomes-{A}.json").read_text())
    return Batch(course, run, outcomes, course.scores(A), course.feedback(A))


def test_the_batch_was_graded(batch: Batch) -> None:
    assert batch.run.returncode == 0, batch.run.log[-3000:]
    assert set(batch.outcomes) == {"solution", *(a.name for a in ATTACKS)}
    assert len(ATTACKS) >= 15


def test_correct_work_in_the_same_batch_gets_full_marks_and_no_flag(batch: Batch) -> None:
    assert sum(batch.scores["solution"].values()) == FULL
    assert batch.outcomes["solution"]["flags"] == [], batch.outcomes["solution"]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_no_attack_inflates_its_score(batch: Batch, attack: Attack) -> None:
    assert sum(batch.scores[attack.name].values()) == attack.score, (
        batch.scores[attack.name], batch.outcomes[attack.name])


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.flags],
                         ids=[a.name for a in ATTACKS if a.flags])
def test_tampering_is_flagged_for_the_ta(batch: Batch, attack: Attack) -> None:
    flags = " | ".join(map(str, batch.outcomes[attack.name]["flags"]))  # type: ignore[call-overload]
    for expected in attack.flags:
        assert expected in flags, (attack.name, flags)


def test_flags_reach_the_csv_and_the_report(batch: Batch) -> None:
    from course.cli import read_export

    rows = {r["student_id"]: r for r in read_export(batch.course.root / "grades.csv")}
    assert rows["solution"]["flags"] == ""
    assert rows["input_transformer_all"]["flags"].startswith("flagged: ")
    assert "Flagged for a TA to look at" in batch.run.log
    from course.grader._report import build_report

    root = batch.course.root
    rep = build_report(root, A, f"sqlite:///{root / 'gradebook.db'}")
    assert "input_transformer_all" in rep.flagged and "solution" not in rep.flagged
    assert "## Flagged: signs of tampering" in rep.markdown()


def test_nothing_hidden_reaches_the_student(batch: Batch) -> None:
    source = batch.course.source_notebook(A)
    release = batch.course.release_notebook(A)
    for attack in ATTACKS:
        text = html_text(batch.feedback[attack.name])
        secret = hidden_only_lines(source, release, batch.course.submitted(attack.name, A))
        assert len(secret) > 10
        leaked = [line for line in secret if line in text]
        assert not leaked, (attack.name, leaked[:3])
    # What the student's code printed while a test ran is gone (its own scratch and drawing
    # cells keep their output: that code and those inputs are the student's own).
    nb = batch.course.autograded("prints_hidden_tests", A)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
             and c.cell_type == "code"]
    assert len(tests) == 7
    for cell in tests:
        text = json.dumps(cell.outputs)
        for marker in ("LEAK-CELL", "LEAK-INPUT", "LEAK-FD"):
            assert marker not in text, (cell.metadata.nbgrader.grade_id, marker)
    # the hidden cells of every autograded notebook hold the judge's verdict only
    seen = check_hidden_verdicts_give_nothing_away(batch.course, A, batch.outcomes)
    assert seen >= 2 * len(ATTACKS)  # most attacks fail all three hidden cells
