"""Check kinds: how one test case's result is compared and explained.

A test cell calls :func:`course.grading.case` once per case, naming a check kind. The same
kind is used in two places, and this module is the one definition both use:

* in the student's kernel while they work (no grading run): the result is compared with the
  ``want`` the visible test shows, and a wrong answer raises ``AssertionError`` with the
  explanation;
* in the grader (:mod:`course.grader`), on the encoded result that the grading kernel
  recorded, against the expected value kept grader-side. For a hidden case ``hidden=True``:
  the explanation shows the input and the student's value and says which rule is broken,
  never the expected value.

:meth:`Check.judge` returns ``None`` for a right answer, else the explanation. It never raises
on a malformed value: a wrong type is a wrong answer with a message saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from course._explain import explain_order, explain_relation, explain_timestamps, explain_vectors
from course._records import Opaque, decode, same
from course._trace import Trace

__all__ = ["CHECKS", "Check", "decide", "plain_order", "plain_timestamps", "plain_vectors",
           "require_bool"]


# ----- plain data (exact types) --------------------------------------------------------
def _kind(x: Any) -> str:
    return x.type_name if isinstance(x, Opaque) else type(x).__name__


def require_bool(value: Any, call: str) -> bool:
    """``value`` if it is a real ``bool``; otherwise AssertionError saying what came back."""
    if type(value) is not bool:
        raise AssertionError(f"{call} must return True or False (a bool), got {value!r} "
                             f"({_kind(value)}). Wrap it in bool(...) if needed.")
    return value


def _require_event_dict(got: Any, trace: Trace, what: str, shape: str) -> None:
    if type(got) is not dict:
        raise AssertionError(f"{what} must return a dict ({shape}), got "
                             f"{_kind(got)}: {got!r:.200}")
    names = [e.name for e in trace.events]
    missing = [n for n in names if n not in got]
    extra = [k for k in got if k not in set(names)]
    if missing or extra:
        raise AssertionError(f"{what} must have exactly one entry per event of the trace; "
                             f"missing {missing[:8]}, unexpected {extra[:8]}\n"
                             f"Trace:\n{trace.to_text()}")


def plain_timestamps(got: Any, trace: Trace, what: str = "lamport_timestamps") -> dict[str, int]:
    """A fresh ``dict[str, int]`` copy of ``got`` after checking its exact types and keys."""
    _require_event_dict(got, trace, what, "event name -> int")
    out: dict[str, int] = {}
    for k, v in got.items():
        if type(v) is not int:
            raise AssertionError(f"{what}: the timestamp of {k!r} must be an int, got {v!r} "
                                 f"({_kind(v)})")
        out[str(k)] = int(v)
    return out


def plain_vectors(got: Any, trace: Trace,
                  what: str = "vector_timestamps") -> dict[str, tuple[int, ...]]:
    """A fresh ``dict[str, tuple[int, ...]]`` copy of ``got`` after checking exact types."""
    _require_event_dict(got, trace, what, "event name -> tuple of ints")
    n = len(trace.processes)
    out: dict[str, tuple[int, ...]] = {}
    for k, v in got.items():
        if type(v) is not tuple or len(v) != n or any(type(x) is not int for x in v):
            raise AssertionError(f"{what}: the vector of {k!r} must be a tuple of {n} ints "
                                 f"(one per process, in trace.processes order), got {v!r} "
                                 f"({_kind(v)})")
        out[str(k)] = tuple(int(x) for x in v)
    return out


def plain_order(got: Any, what: str = "total_order") -> list[str]:
    """A fresh ``list[str]`` copy of ``got`` after checking its exact types."""
    if type(got) is not list or any(type(x) is not str for x in got):
        raise AssertionError(f"{what} must return a list of event names (str), got "
                             f"{_kind(got)}: {got!r:.200}")
    return [str(x) for x in got]


# ----- the kinds -------------------------------------------------------------------------
Judge = Callable[[Any, Any, Mapping[str, Any], bool], "str | None"]


@dataclass(frozen=True)
class Check:
    """A named way to compare one case's result (both encoded) and explain a wrong one."""

    name: str
    compare: Judge  # (got, want, context, hidden) on *decoded* values -> None or message
    context: Callable[[tuple[Any, ...]], dict[str, Any]]  # the case's args -> context

    def __repr__(self) -> str:
        return f"Check({self.name!r})"

    def judge(self, got_enc: Any, want_enc: Any, context: Mapping[str, Any],
              hidden: bool) -> str | None:
        """None if ``got_enc`` is right, else the explanation (never raises)."""
        try:
            got = decode(got_enc)
            want = decode(want_enc)
            return self.compare(got, want, context, hidden)
        except AssertionError as exc:
            return str(exc)
        except Exception as exc:  # a malformed value from the kernel is a wrong answer
            return f"{context.get('call', 'the result')}: could not check it ({exc})"


def _call(context: Mapping[str, Any]) -> str:
    return str(context.get("call") or "your code")


def _suffix(context: Mapping[str, Any]) -> str:
    label = context.get("label")
    hint = context.get("hint")
    return (f" on {label}" if label else "") + (f". {hint}" if hint else "")


def _exact(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    from course._records import encode

    if same(encode(got), encode(want)):
        return None
    shown = f"{got!r:.400} ({_kind(got)})"
    if hidden:
        return f"{_call(context)} returned {shown}, which is wrong{_suffix(context)}"
    return f"{_call(context)} returned {shown}, expected {want!r:.400}{_suffix(context)}"


def _trace_of(context: Mapping[str, Any]) -> Trace:
    return Trace.parse(str(context["trace"]))


def _timestamps(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    trace = _trace_of(context)
    plain = plain_timestamps(got, trace, str(context.get("fn", "lamport_timestamps")))
    if plain == want:
        return None
    return explain_timestamps(trace, plain, want, str(context.get("label", "")), hidden)


def _vectors(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    trace = _trace_of(context)
    plain = plain_vectors(got, trace, str(context.get("fn", "vector_timestamps")))
    if plain == want:
        return None
    return explain_vectors(trace, plain, want, str(context.get("label", "")), hidden)


def _relation(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    trace = _trace_of(context)
    fn, a, b = str(context["fn"]), str(context["a"]), str(context["b"])
    value = require_bool(got, f"{fn}(trace, {a!r}, {b!r})")
    if value is want:
        return None
    return explain_relation(trace, fn, a, b, value, bool(want), str(context.get("label", "")),
                            hidden)


def _order(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    trace = _trace_of(context)
    order = plain_order(got, str(context.get("fn", "total_order")))
    if order == want:
        return None
    ts = {str(k): int(v) for k, v in dict(context["timestamps"]).items()}
    return explain_order(trace, order, want, ts, str(context.get("label", "")), hidden)


def _allclose(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    import numpy as np

    if isinstance(got, Opaque) or not isinstance(got, np.ndarray | int | float | list):
        return f"{_call(context)} must return an array, got {_kind(got)}{_suffix(context)}"
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return (f"{_call(context)} returned shape {g.shape}, expected {w.shape}"
                f"{_suffix(context)}")
    rtol, atol = float(context.get("rtol", 1e-5)), float(context.get("atol", 1e-8))
    if g.dtype.kind not in "biuf":
        return f"{_call(context)}: the values must be numbers, got {g.dtype}"
    if np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
        return None
    bad = int(np.sum(~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)))
    where = "" if hidden else f"; expected {w.tolist()!r:.300}"
    return (f"{_call(context)} is off in {bad} of {g.size} entries (rtol={rtol}, atol={atol}): "
            f"got {g.tolist()!r:.300}{where}{_suffix(context)}")


def _relations(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """A whole relation at once: ``got[i][j]`` is ``fn(trace, events[i], events[j])``."""
    trace = _trace_of(context)
    fn = str(context.get("relation", "happens_before"))
    names = [e.name for e in trace.events]
    if type(got) is not list or len(got) != len(names) or any(
            type(row) is not list or len(row) != len(names) for row in got):
        return f"{fn}: expected an answer for every pair of the {len(names)} events"
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            value = require_bool(got[i][j], f"{fn}(trace, {a!r}, {b!r})")
            if value is not want[i][j]:
                return explain_relation(trace, fn, a, b, value, bool(want[i][j]),
                                        str(context.get("label", "")), hidden)
    return None


def _no_context(args: tuple[Any, ...]) -> dict[str, Any]:
    return {}


def _trace_context(args: tuple[Any, ...]) -> dict[str, Any]:
    trace = next((a for a in args if isinstance(a, Trace)), None)
    return {"trace": trace.to_text()} if trace is not None else {}


def _relation_context(args: tuple[Any, ...]) -> dict[str, Any]:
    return {**_trace_context(args), "a": args[1], "b": args[2]}


def _order_context(args: tuple[Any, ...]) -> dict[str, Any]:
    return {**_trace_context(args), "timestamps": dict(args[1])}


#: Every check kind by name. ``raises`` is decided from the record's exception (see
#: :func:`course.grader.judge_case`), ``parallel`` by :mod:`course.jaxtools`.
CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("exact", _exact, _no_context),
    Check("timestamps", _timestamps, _trace_context),
    Check("vectors", _vectors, _trace_context),
    Check("relation", _relation, _relation_context),
    Check("order", _order, _order_context),
    Check("relations", _relations, _trace_context),
    Check("allclose", _allclose, _no_context),
)}


def _safe_name(name: str) -> str:
    """An exception class name from the kernel, as shown in a hidden test's feedback."""
    return name if name.isidentifier() and len(name) <= 60 else "an exception"


def decide(check: str, value_enc: Any, raised: tuple[str, str, tuple[str, ...]] | None,
           want_enc: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """The verdict on one case: None when right, else the explanation for the student.

    ``raised`` is the (type name, message, base class names) of an exception the call
    raised, else None. For ``check="raises"`` the expected value is an exception class name;
    a subclass counts. Hidden cases never echo the exception's message (it is the student's
    text and may quote the hidden test)."""
    call, suffix = _call(context), _suffix(context)
    try:
        want_raw = decode(want_enc)
    except Exception:
        return "the expected value of this case is unreadable (ask the instructor)"
    if check == "raises":
        if raised is None:
            try:
                got = f"{decode(value_enc)!r:.200}"
            except Exception:
                got = "a value"
            return (f"{call} must raise {want_raw}{suffix}, but it returned "
                    f"{'a value' if hidden else got}")
        if raised[0] == want_raw or want_raw in raised[2]:
            return None
        return f"{call} must raise {want_raw}{suffix}, but it raised {_safe_name(raised[0])}"
    if raised is not None:
        said = "" if hidden else f": {raised[1][:300]}"
        return f"{call} raised {_safe_name(raised[0])}{said}{suffix}"
    kind = CHECKS.get(check)
    if kind is None:
        return f"unknown check kind {check!r} (ask the instructor)"
    return kind.judge(value_enc, want_enc, context, hidden)
