"""course.grading (the helpers test cells call), the nbgrader plug-ins in course.cli, and the
course's nbgrader_config.py."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook

import course
import course._clocks
import course._order
from course import Trace, grading
from course.grading import (
    explain_order,
    explain_relation,
    explain_timestamps,
    plain_order,
    plain_timestamps,
    plain_vectors,
    reference_disabled,
    require_bool,
    require_own,
)

REPO = Path(__file__).resolve().parents[1]
LECTURE = Trace.parse(course.LECTURE_EXAMPLE)
LECTURE_TS = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 1, "f": 5}


# ----- own work only ------------------------------------------------------------------
class OwnClock:
    def __init__(self) -> None:
        self.time = 0


def own_timestamps(trace: Trace) -> dict[str, int]:
    return {}


def test_require_own_accepts_the_students_code() -> None:
    require_own(OwnClock, "LamportClock")
    require_own(own_timestamps, "lamport_timestamps")
    require_own(lambda trace: {}, "lamport_timestamps")


@pytest.mark.parametrize("obj", [
    course.LamportClock, course.lamport_timestamps, course._clocks.vector_timestamps,
    course.HappensBefore, course.total_order, course.happens_before,
    functools.partial(course.lamport_timestamps),
    functools.wraps(course.lamport_timestamps)(lambda t: course.lamport_timestamps(t)),
    type("Sub", (course.LamportClock,), {}),
])
def test_require_own_rejects_the_reference(obj: object) -> None:
    with pytest.raises(AssertionError, match="comes from the course library"):
        require_own(obj, "it")


def test_require_own_rejects_none() -> None:
    with pytest.raises(AssertionError, match="is None"):
        require_own(None, "lamport_timestamps")


def test_reference_disabled_switches_off_and_restores() -> None:
    before = {n: [getattr(m, n) for m in (course, course._clocks, course._order)
                  if hasattr(m, n)] for n in grading.REFERENCE_NAMES}
    with reference_disabled():
        for name in grading.REFERENCE_NAMES:
            with pytest.raises(RuntimeError, match="switched off"):
                getattr(course, name)(LECTURE)
        with pytest.raises(RuntimeError, match="switched off"):
            course._clocks.lamport_timestamps(LECTURE)
        with pytest.raises(RuntimeError, match="switched off"):
            course._order.total_order(LECTURE)  # uses lamport_timestamps internally
        # Trace's own methods keep working.
        assert [e.name for e in LECTURE.causal_order()][:2] == ["a", "b"]
    after = {n: [getattr(m, n) for m in (course, course._clocks, course._order)
                 if hasattr(m, n)] for n in grading.REFERENCE_NAMES}
    assert after == before
    assert course.lamport_timestamps(LECTURE) == LECTURE_TS


def test_reference_disabled_restores_after_an_error_and_keeps_rebindings() -> None:
    original = course.lamport_timestamps

    def mine(trace: Trace) -> dict[str, int]:
        return {}

    course.lamport_timestamps = mine  # what a student's cell might do
    try:
        with pytest.raises(KeyError), reference_disabled():
            assert course.lamport_timestamps is not mine
            raise KeyError("boom")
        assert course.lamport_timestamps is mine  # restored to what was bound before
    finally:
        course.lamport_timestamps = original


# ----- plain data ---------------------------------------------------------------------
class SneakyDict(dict):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


def test_plain_timestamps_checks_exact_types() -> None:
    assert plain_timestamps(dict(LECTURE_TS), LECTURE) == LECTURE_TS
    with pytest.raises(AssertionError, match="must return a dict"):
        plain_timestamps(SneakyDict(LECTURE_TS), LECTURE)
    with pytest.raises(AssertionError, match="must be an int"):
        plain_timestamps({**LECTURE_TS, "a": True}, LECTURE)
    with pytest.raises(AssertionError, match="must be an int"):
        plain_timestamps({**LECTURE_TS, "a": 1.0}, LECTURE)
    with pytest.raises(AssertionError, match=r"missing \['f'\]"):
        plain_timestamps({k: v for k, v in LECTURE_TS.items() if k != "f"}, LECTURE)
    with pytest.raises(AssertionError, match="unexpected"):
        plain_timestamps({**LECTURE_TS, "zz": 3}, LECTURE)


def test_plain_vectors_and_order_and_bool() -> None:
    vec = course.vector_timestamps(LECTURE)
    assert plain_vectors(dict(vec), LECTURE) == vec
    with pytest.raises(AssertionError, match="tuple of 3 ints"):
        plain_vectors({k: list(v) for k, v in vec.items()}, LECTURE)
    assert plain_order(["a", "e"]) == ["a", "e"]
    with pytest.raises(AssertionError, match="list of event names"):
        plain_order(("a", "e"))
    assert require_bool(True, "f()") is True
    with pytest.raises(AssertionError, match="must return True or False"):
        require_bool(1, "happens_before(trace, 'a', 'b')")


# ----- messages -----------------------------------------------------------------------
def test_explain_timestamps_names_the_violating_pair() -> None:
    broken = dict(LECTURE_TS, c=2)  # max(own, ts) without + 1
    text = explain_timestamps(LECTURE, broken, LECTURE_TS, "the lecture's example")
    assert "break the clock condition" in text
    assert "b → c (rule 2: message m1)" in text and "TS(b) = 2 is not < TS(c) = 2" in text
    assert "First wrong event (in causal order): c" in text
    assert "A: a b!m1" in text


def test_explain_timestamps_without_violation_names_first_wrong_event() -> None:
    text = explain_timestamps(LECTURE, dict(LECTURE_TS, f=7), LECTURE_TS)
    assert "clock condition" not in text
    assert "f (the receive of m2 on C): expected 5, got 7" in text


def test_explain_relation_gives_a_path_or_concurrency() -> None:
    text = explain_relation(LECTURE, "happens_before", "a", "f", False, True)
    assert "a → b (rule 1: both on A), b → c (rule 2: message m1)" in text
    assert "d → f (rule 2: message m2)" in text
    text = explain_relation(LECTURE, "happens_before", "e", "b", True, False)
    assert "e and b are concurrent" in text
    text = explain_relation(LECTURE, "concurrent", "a", "a", True, False)
    assert "not concurrent with itself" in text


def test_explain_order_mentions_the_tie_break() -> None:
    text = explain_order(LECTURE, ["e", "a", "b", "c", "d", "f"],
                         ["a", "e", "b", "c", "d", "f"], LECTURE_TS)
    assert "Process ids: A=0, B=1, C=2" in text
    assert "tie-break: e (TS 1, pid 2) placed before a (TS 1, pid 0)" in text


# ----- stderr routing, in a real kernel -----------------------------------------------
@pytest.mark.slow
def test_stderr_routing_in_a_kernel() -> None:
    from nbclient import NotebookClient

    cells = [
        # Without the set-up: this is nbgrader's trap (any stderr output scores a cell 0).
        "import logging, os, subprocess, sys, time, warnings\n"
        "early = logging.getLogger('early')\n"
        "early.addHandler(logging.StreamHandler())  # holds the kernel's stderr\n"
        "warnings.warn('before', UserWarning)",
        "import course.grading",
        "warnings.warn('w-deprecated', DeprecationWarning)\n"
        "warnings.warn('w-user')\n"
        "logging.getLogger('lib').warning('l-last-resort')\n"
        "early.warning('l-early-handler')\n"
        "print('p-stderr', file=sys.stderr)\n"
        "os.write(2, b'fd-2\\n')\n"
        "subprocess.run([sys.executable, '-c', 'import sys; sys.stderr.write(\"child\\\\n\")'])\n"
        "time.sleep(0.3)",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=False)
    client.execute(env=env)
    first, _, last = nb.cells
    assert any(o.get("name") == "stderr" for o in first.outputs), first.outputs
    assert not [o for o in last.outputs if o.get("name") == "stderr"], last.outputs
    text = "".join(o.get("text", "") for o in last.outputs)
    for piece in ("DeprecationWarning: w-deprecated", "UserWarning: w-user", "l-last-resort",
                  "l-early-handler", "p-stderr", "fd-2", "child"):
        assert piece in text, (piece, text)


def test_routing_is_a_no_op_outside_a_kernel() -> None:
    assert not grading.in_kernel()
    stderr = sys.stderr
    assert grading.route_stderr_to_stdout() is False
    assert sys.stderr is stderr


# ----- nbgrader plug-ins and config ---------------------------------------------------
def test_hide_hidden_tests_scrubs_source_and_tracebacks() -> None:
    from course.nbplugins import HideHiddenTests

    source = ("# Checks things (hidden tests).\nrequire_own(f, 'f')\n### BEGIN HIDDEN TESTS\n"
              "SECRET_CASES = [(1, 2)]\nfor x, y in SECRET_CASES:\n    assert f(x) == y\n"
              "### END HIDDEN TESTS")
    frames = [
        "\x1b[31m----\x1b[39m",
        "\x1b[36mCell In[9], line 6\x1b[39m\n      4 \x1b[38;5;28mfor\x1b[39m x, y \x1b[38;5;129m"
        "in\x1b[39m SECRET_CASES:\n----> 6     \x1b[38;5;28massert\x1b[39m f(x) == y",
        "\x1b[36mCell In[3], line 2\x1b[39m, in f(x)\n----> 2     return x + 1",
        "\x1b[36mCell In[9], line 2\x1b[39m\n----> 2 require_own(f, 'f')\n      3 ### BEGIN "
        "HIDDEN TESTS",
        "\x1b[31mAssertionError\x1b[39m: f(1) should be 2",
    ]
    cell = NotebookNode(cell_type="code", source=source, metadata=NotebookNode(
        nbgrader=NotebookNode(grade=True, grade_id="t", points=1, solution=False,
                              locked=True)),
        outputs=[NotebookNode(output_type="error", ename="AssertionError",
                              evalue="f(1) should be 2", traceback=list(frames))],
        execution_count=9)
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "SECRET" not in out.source and "HIDDEN" not in out.source
    assert "hidden tests ran here" in out.source and "require_own(f, 'f')" in out.source
    tb = out.outputs[0].traceback
    assert not any("SECRET" in f or "HIDDEN" in f for f in tb)
    assert frames[2] in tb and frames[4] in tb  # the student's frame and the message stay
    assert any("not shown" in f for f in tb)


def test_course_config_settings() -> None:
    from nbgrader.preprocessors import OverwriteCells
    from traitlets.config.loader import PyFileConfigLoader

    # The option exists in the installed nbgrader (0.9.6) and is configurable.
    assert "add_missing_cells" in OverwriteCells.class_own_traits(config=True)
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert cfg.OverwriteCells.add_missing_cells is True
    assert Path(cfg.CourseDirectory.root) == REPO
    assert cfg.CourseDirectory.source_directory == "source"
    assert cfg.CourseDirectory.release_directory == "release"
    assert cfg.CourseDirectory.course_id
    assert cfg.Execute.timeout >= 120  # JAX compilation
    assert 0 < cfg.LimitOutput.max_lines <= 1000
    assert "course.nbplugins.HideHiddenTests" in cfg.GenerateFeedback.preprocessors
    assert cfg.Autograde.autograde_preprocessors[0] == "course.nbplugins.GuardedExecute"


def test_autograde_preprocessors_are_nbgrader_defaults_with_execute_and_judge_ours() -> None:
    from nbgrader.converters import Autograde
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    default = [f"{c.__module__.split('.')[0]}.preprocessors.{c.__name__}"
               for c in Autograde.class_traits()["autograde_preprocessors"].default()]
    ours = list(cfg.Autograde.autograde_preprocessors)
    # GuardedExecute replaces Execute; the Judge decides verdicts before SaveAutoGrades.
    assert ours[:2] == ["course.nbplugins.GuardedExecute", "course.nbplugins.Judge"]
    assert ours[2:] == default[1:]
    assert ours.index("course.nbplugins.Judge") < ours.index(
        "nbgrader.preprocessors.SaveAutoGrades")
    assert default[0] == "nbgrader.preprocessors.Execute"
