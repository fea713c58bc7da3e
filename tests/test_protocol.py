"""The grading protocol's parts, unit by unit: the record encoding and parser (hostile input),
the check kinds, the kernel-side ``case`` in its three modes, and the judge on synthetic
notebooks (right, wrong, missing, forged, replayed, conflicting and malformed records)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from nbformat import v4
from nbformat.notebooknode import NotebookNode, from_dict

import course._protocol as protocol
from course import Trace
from course._checks import decide
from course._records import (
    MIME,
    Array,
    MalformedRecord,
    Opaque,
    Record,
    decode,
    encode,
    parse_record,
    same,
)
from course.grader import Spec, inject, judge_notebook

LECTURE = "A: a b!m1\nB: c?m1 d!m2\nC: e f?m2\n"
WANT = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 1, "f": 5}


# ----- encoding --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, True, 0, -7, 2**70, "x", [1, [2]], (1, "a"),
                                   {"a": (1, 2)}, {(1, 2): [None]}, 1.5, float("inf"), []])
def test_encode_decode_round_trip(value: Any) -> None:
    enc = encode(value)
    assert json.loads(json.dumps(enc)) == enc
    assert decode(enc) == value and type(decode(enc)) is type(value)


def test_same_is_type_exact() -> None:
    assert not same(encode(True), encode(1))
    assert not same(encode(1.0), encode(1))
    assert not same(encode((1, 2)), encode([1, 2]))
    assert same(encode({"a": 1, "b": 2}), encode({"b": 2, "a": 1}))
    assert same(encode(float("nan")), encode(float("nan")))
    assert not same(encode({"a": 1}), encode({"a": True}))


def test_subclasses_and_strangers_are_not_plain_values() -> None:
    class Rigged(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert encode(Rigged(3)) == {"other": "Rigged", "repr": "3"}
    assert not same(encode(Rigged(3)), encode(3))
    assert encode(Hostile())["other"] == "Hostile"
    assert isinstance(decode(encode(Hostile())), Opaque)


def test_arrays_keep_dtype_shape_and_kind() -> None:
    import jax.numpy as jnp

    a = decode(encode(np.arange(6, dtype=np.int32).reshape(2, 3)))
    assert isinstance(a, Array) and not a.jax and a.values.dtype == np.int32
    assert a.values.shape == (2, 3)
    j = decode(encode(jnp.ones(3)))
    assert isinstance(j, Array) and j.jax and j.values.tolist() == [1.0, 1.0, 1.0]


def test_huge_or_deep_values_are_refused_not_recorded() -> None:
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    assert encode(deep)["repr"] == "(too large to record)"
    assert encode(list(range(300_000)))["repr"] == "(too large to record)"


@pytest.mark.parametrize("data", [
    None, "not json", [], {"v": 2}, {"v": 1}, {"v": 1, "nonce": 1, "cell": "c", "key": "k"},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k"},  # neither value nor raised
    {"v": 1, "nonce": "n" * 300, "cell": "c", "key": "k", "value": 1},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k", "value": {"bogus": 1}},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k", "value": {"float": "x"}},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k", "raised": {"type": 3}},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k", "raised": {"type": "E", "bases": [1]}},
    {"v": 1, "nonce": "n", "cell": "c", "key": "k", "value": {"dict": [[{"list": []}, 1]]}},
])
def test_malformed_records_are_rejected(data: Any) -> None:
    with pytest.raises(MalformedRecord):
        parse_record(data)


def test_a_record_survives_nbformat() -> None:
    rec = Record("n", "c", "k", value=encode((1, 2)))
    node = from_dict({"output_type": "display_data", "data": {MIME: rec.to_json()},
                      "metadata": {}})
    assert parse_record(node["data"][MIME]) == rec


# ----- check kinds -----------------------------------------------------------------------
def test_hidden_explanations_show_no_expected_value() -> None:
    got = dict(WANT, d=3)
    ctx = {"trace": LECTURE, "call": "lamport_timestamps(trace)"}
    shown = decide("timestamps", encode(got), None, encode(WANT), ctx, hidden=False)
    hidden = decide("timestamps", encode(got), None, encode(WANT), ctx, hidden=True)
    assert shown is not None and "expected 4" in shown
    assert hidden is not None and "expected" not in hidden and "rule 2" in hidden
    assert decide("timestamps", encode(WANT), None, encode(WANT), ctx, hidden=True) is None


def test_raises_accepts_subclasses_and_hides_hidden_messages() -> None:
    ctx = {"call": "split(x)"}
    assert decide("raises", None, ("MyError", "", ("ValueError", "Exception")),
                  encode("ValueError"), ctx, True) is None
    wrong = decide("raises", None, ("TypeError", "secret input", ("Exception",)),
                   encode("ValueError"), ctx, True)
    assert wrong is not None and "TypeError" in wrong and "secret" not in wrong
    raised = decide("exact", None, ("KeyError", "the hidden trace", ()), encode(1), ctx, True)
    assert raised is not None and "KeyError" in raised and "hidden trace" not in raised
    odd = decide("exact", None, ("x" * 500, "", ()), encode(1), ctx, True)
    assert odd is not None and "x" * 61 not in odd


def test_a_wrong_type_is_a_wrong_answer_not_a_crash() -> None:
    ctx = {"trace": LECTURE, "call": "f"}
    for bad in ([1, 2], {"a": "1"}, {"other": "Rigged", "repr": "1"}):
        enc = bad if isinstance(bad, dict) and "other" in bad else encode(bad)
        assert decide("timestamps", enc, None, encode(WANT), ctx, False) is not None
    assert decide("relation", encode(1), None, encode(True),
                  {"trace": LECTURE, "fn": "happens_before", "a": "a", "b": "b"}, False)


# ----- the kernel side ---------------------------------------------------------------------
@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    out: list[Record] = []
    monkeypatch.setattr(protocol, "_emit", out.append)
    monkeypatch.setattr(protocol, "_state", {"cell": None, "nonce": None, "author": False})
    return out


def test_student_mode_checks_want_in_the_kernel(emitted: list[Record]) -> None:
    trace = Trace.parse(LECTURE)
    assert protocol.case("k", lambda t: dict(WANT), trace, check="timestamps", want=WANT) == WANT
    with pytest.raises(AssertionError, match="First wrong event"):
        protocol.case("k", lambda t: dict(WANT, f=4), trace, check="timestamps", want=WANT)
    with pytest.raises(ZeroDivisionError):  # the student's own exception, as usual
        protocol.case("k", lambda: 1 / 0)
    assert emitted == []


def test_grading_mode_only_reports(emitted: list[Record]) -> None:
    protocol.begin("cell-1", "nonce-1")
    assert protocol.case("a", lambda: 1, want=2) == 1  # a wrong answer raises nothing
    assert protocol.case("b", lambda: 1 / 0) is None
    assert [(r.cell, r.key, r.value, r.raised and r.raised[0]) for r in emitted] == [
        ("cell-1", "a", 1, None), ("cell-1", "b", None, "ZeroDivisionError")]
    assert all(r.nonce == "nonce-1" and r.context is None for r in emitted)


def test_authoring_mode_checks_and_reports_context(emitted: list[Record]) -> None:
    protocol.begin("cell-1", "author", author=True)
    protocol.case("a", lambda t: dict(WANT), Trace.parse(LECTURE), check="timestamps",
                  want=WANT, label="the lecture")
    ctx = decode(emitted[0].context)
    assert ctx["trace"] == Trace.parse(LECTURE).to_text() and ctx["check"] == "timestamps"
    with pytest.raises(AssertionError):
        protocol.case("b", lambda: 3, want=4)


def test_unknown_check_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Unknown check kind 'nope'"):
        protocol.case("k", lambda: 1, check="nope")


# ----- the judge -----------------------------------------------------------------------
def _notebook(hidden: bool = False) -> NotebookNode:
    meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t1", "points": 1,
                         "locked": True}}
    body = "# Checks it.\ncase('k', f)" + ("\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"
                                           if hidden else "")
    return v4.new_notebook(cells=[v4.new_code_cell("f = lambda: 1"),
                                  v4.new_code_cell(body, metadata=meta)])


def _spec(hidden: bool = False, want: Any = 1) -> Spec:
    case = {"key": "k", "check": "exact", "want": encode(want),
            "context": encode({"call": "f()"})}
    return Spec({"t1": (hidden, [case])}, probe=encode({"events": []}))


def _run(nb: NotebookNode, nonce: str, records: list[dict[str, Any]],
         canary_fails: bool = True, probe: Any = None, extra: Any = None) -> None:
    """Fake a kernel run: the test cell gets ``records``; canary and probe as asked."""
    for cell in nb.cells:
        role = cell.metadata.get("course_injected")
        cell.execution_count = 1
        if role == "canary":
            cell.outputs = [v4.new_output("error", ename="AssertionError",
                                          evalue=f"course canary {nonce}",
                                          traceback=[])] if canary_fails else []
        elif role == "probe":
            cell.outputs = [] if probe is None else [_out(
                {"v": 1, "nonce": nonce, "cell": "__probe__", "key": "probe", "value": probe})]
        elif "grade_id" in cell.metadata.get("nbgrader", {}):
            cell.outputs = [_out(r) for r in records] + (extra or [])


def _out(data: dict[str, Any]) -> NotebookNode:
    return v4.new_output("display_data", data={MIME: data})


def _rec(nonce: str, value: Any, cell: str = "t1", key: str = "k") -> dict[str, Any]:
    return {"v": 1, "nonce": nonce, "cell": cell, "key": key, "value": encode(value)}


def _judge(records: list[dict[str, Any]] | None = None, *, hidden: bool = False,
           **kw: Any) -> tuple[NotebookNode, Any]:
    nb = _notebook(hidden)
    original = nb.cells[1].source
    nonce = inject(nb)
    assert nonce in nb.cells[1].source and len(nb.cells) == 4
    _run(nb, nonce, [_rec(nonce, 1)] if records is None else
         [r if isinstance(r, dict) else r(nonce) for r in records], **kw)
    report = judge_notebook(nb, _spec(hidden), nonce)
    assert len(nb.cells) == 2 and nb.cells[1].source == original  # injected parts gone
    return nb, report


def test_a_right_record_passes_and_the_outputs_are_the_judges() -> None:
    nb, report = _judge(probe=encode({"events": []}),
                        extra=[v4.new_output("execute_result", data={"text/plain": "11"})])
    assert report.verdicts[0].ok and report.flags == []
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream"]  # the 11 is gone


@pytest.mark.parametrize(("records", "flag"), [
    ([], None),  # no record at all: did not complete
    ([lambda n: _rec(n, 2)], None),  # wrong value
    ([lambda n: _rec(n, True)], None),  # True is not 1
    ([lambda n: _rec("0" * 32, 1)], "another grading run"),  # replayed
    ([lambda n: _rec(n, 1, cell="t9")], "claiming to come from cell"),
    ([lambda n: _rec(n, 1), lambda n: _rec(n, 2)], "conflicting records"),
    ([{"v": 1, "nonce": "x"}], "malformed record"),
])
def test_anything_but_one_right_record_fails(records: list[Any], flag: str | None) -> None:
    nb, report = _judge(records, probe=encode({"events": []}))
    assert not report.verdicts[0].ok
    assert nb.cells[1].outputs[0].output_type == "error"
    if flag:
        assert any(flag in f for f in report.flags), report.flags


def test_a_passing_canary_and_a_silent_probe_are_flagged() -> None:
    _, report = _judge(canary_fails=False, probe=None)
    assert any("canary" in f for f in report.flags)
    assert any("probe did not report" in f for f in report.flags)
    _, report = _judge(probe=encode({"events": ["pre_run_cell:__main__.hook"]}))
    assert report.flags == ["kernel state: events: pre_run_cell:__main__.hook"]


def test_a_hidden_wrong_answer_shows_neither_the_expected_value_nor_the_students_output() -> None:
    nb, report = _judge([lambda n: _rec(n, 12345678)], hidden=True,
                        probe=encode({"events": []}),
                        extra=[v4.new_output("stream", name="stdout", text="SECRET INPUT")])
    assert not report.verdicts[0].ok
    text = json.dumps(nb.cells[1].outputs)
    assert "SECRET" not in text and "12345678" in text and "expected" not in text


def test_no_spec_means_no_verdict_can_pass() -> None:
    nb = _notebook()
    nonce = inject(nb)
    _run(nb, nonce, [_rec(nonce, 1)], probe=encode({}))
    report = judge_notebook(nb, None, nonce)
    assert not report.verdicts[0].ok and "no grader-side expected values" in (
        report.verdicts[0].message)
