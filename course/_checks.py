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
from course._records import Array, Opaque, decode, same
from course._trace import Trace

__all__ = ["CHECKS", "Check", "decide", "figure_of", "parallel_evidence", "plain_order",
           "plain_timestamps", "plain_vectors", "require_bool"]


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
    #: (got, context) -> a base64 PNG that shows a wrong result (e.g. the failing run), or None
    figure: Callable[[Any, Mapping[str, Any]], str | None] | None = None

    def __repr__(self) -> str:
        return f"Check({self.name!r})"

    def judge(self, got_enc: Any, want_enc: Any, context: Mapping[str, Any],
              hidden: bool) -> str | None:
        """None if ``got_enc`` is right, else the explanation (never raises)."""
        try:
            if self.name == "exact" and same(got_enc, want_enc):
                return None
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
    """Called only when the encodings differ (see Check.judge)."""
    shown = f"{got!r:.400} ({_kind(got)})"
    if hidden:
        return f"{_call(context)} returned {shown}, which is wrong{_suffix(context)}"
    return f"{_call(context)} returned {shown}, expected {want!r:.400}{_suffix(context)}"


def _trace_of(context: Mapping[str, Any]) -> Trace:
    return Trace.parse(str(context["trace"]))


def _per_event(plain: Callable[[Any, Trace, str], dict[str, Any]],
               explain: Callable[..., str], fn: str) -> Judge:
    """A check of one value per event (timestamps, vectors): exact types, then explain."""
    def compare(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
        trace = _trace_of(context)
        mine = plain(got, trace, str(context.get("fn", fn)))
        if mine == want:
            return None
        return explain(trace, mine, want, str(context.get("label", "")), hidden)

    return compare


_timestamps = _per_event(plain_timestamps, explain_timestamps, "lamport_timestamps")
_vectors = _per_event(plain_vectors, explain_vectors, "vector_timestamps")


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
    """Arrays (or numbers, or dicts or sequences of them) equal within ``rtol``/``atol``;
    dicts need exactly the expected keys; with ``jax=True`` in the context
    the result must be a JAX array, with ``dtype`` of that dtype."""
    import numpy as np

    if isinstance(got, tuple | list) and isinstance(want, tuple | list):
        if len(got) != len(want):
            return (f"{_call(context)} must return {len(want)} results, got {len(got)}"
                    f"{_suffix(context)}")
        for k, (g_k, w_k) in enumerate(zip(got, want, strict=True)):
            problem = _allclose(g_k, w_k, {**context, "call": f"{_call(context)}[{k}]"},
                                hidden)
            if problem:
                return problem
        return None
    if isinstance(want, dict):
        if type(got) is not dict or set(got) != set(want):
            keys = sorted(want, key=repr)
            shown = sorted(got, key=repr) if type(got) is dict else _kind(got)
            return (f"{_call(context)} must return a dict with the keys {keys!r:.200}, got "
                    f"{shown!r:.200}{_suffix(context)}")
        for k in sorted(want, key=repr):
            inner = {**context, "call": f"{_call(context)}[{k!r}]"}
            problem = _allclose(got[k], want[k], inner, hidden)
            if problem:
                return problem
        return None
    if isinstance(got, Opaque) or not isinstance(got, Array | int | float):
        return f"{_call(context)} must return an array, got {_kind(got)}{_suffix(context)}"
    if context.get("jax") and not (isinstance(got, Array) and got.jax):
        return (f"{_call(context)} must return a JAX array (made with jax.numpy), got "
                f"{got!r:.120}{_suffix(context)}")
    g = got.values if isinstance(got, Array) else np.asarray(got)
    w = want.values if isinstance(want, Array) else np.asarray(want)
    if context.get("dtype") and str(g.dtype) != str(context["dtype"]):
        return (f"{_call(context)} must have dtype {context['dtype']}, got {g.dtype}"
                f"{_suffix(context)}")
    if g.shape != w.shape:
        return (f"{_call(context)} returned shape {g.shape}, but this input calls for "
                f"{w.shape}{_suffix(context)}")
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
        return f"{fn}: there must be an answer for every pair of the {len(names)} events"
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            value = require_bool(got[i][j], f"{fn}(trace, {a!r}, {b!r})")
            if value is not want[i][j]:
                return explain_relation(trace, fn, a, b, value, bool(want[i][j]),
                                        str(context.get("label", "")), hidden)
    return None


def _all_equal(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """A relational check with no expected value: every item of the list is the same."""
    from course._records import encode

    if type(got) is not list or not got:
        return f"{_call(context)}: must be a list of results, got {_kind(got)}"
    if all(same(encode(x), encode(got[0])) for x in got):
        return None
    return f"{_call(context)} gave {got!r:.300}, which differ{_suffix(context)}"


def _per_device(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """The output of a mapped computation: shape ``(devices,)``, every entry the total."""
    import os

    import numpy as np

    if not isinstance(got, Array):
        return f"{_call(context)} must return the pmap output (a JAX array), got {_kind(got)}"
    g = got.values
    # The grader's JAX_* variables reach the box: with a CPU device count set, that is the
    # kernel's count; otherwise any one-entry-per-device shape (the parallel check pins it).
    n = int(os.environ.get("JAX_NUM_CPU_DEVICES") or (g.shape[0] if g.ndim == 1 else 1))
    total = (want.values if isinstance(want, Array) else np.asarray(want)).reshape(-1)[0]
    if g.shape != (n,):
        return (f"{_call(context)} must return the pmap output, one entry per device: shape "
                f"({n},) on this kernel's {n} device(s); got shape {g.shape}{_suffix(context)}")
    if (g == total).all():
        return None
    shown = "the total over all walkers" if hidden else f"the total {total}"
    return (f"{_call(context)}: every entry must be {shown}; got {g.tolist()}"
            f"{_suffix(context)}. (lax.psum adds the devices' sums; lax.pmean would average "
            f"them.)")


def _parallel(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """ps4's parallelism verdict, judged here from the traced program's plain-data record
    (:func:`course.jaxtools.jaxpr_record`) by :func:`course.jaxtools.judge_parallel`, plus
    where the output lives. ``got`` is ``{"jaxpr": record, "devices": n, "placement": [...]}``
    as :func:`parallel_evidence` builds it in the kernel."""
    import os

    from course.jaxtools._verify import judge_parallel

    if type(got) is not dict or not {"jaxpr", "devices", "placement"} <= set(got):
        return f"{_call(context)}: the parallelism evidence is missing or malformed"
    devices = got["devices"]
    n = int(os.environ.get("JAX_NUM_CPU_DEVICES") or (devices if type(devices) is int else 1))
    record = _plain(got["jaxpr"])
    report = judge_parallel(record, n_devices=n, split_arg=int(context.get("split_arg", 1)))
    placement = got["placement"]
    lines = []
    if n > 1 and (type(placement) is not list or not placement
                  or any(p != n for p in placement)):
        lines.append(f"output placement: the result does not live on all {n} devices "
                     f"(combined on the host?): {placement!r:.100}")
    if report.ok and not lines:
        return None
    return (f"{_call(context)} does not run in parallel{_suffix(context)}:\n"
            + "\n".join([*lines, repr(report)]))


def _plain(x: Any) -> Any:
    """A decoded value back to JSON types (tuples to lists), as judge_parallel reads it."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def parallel_evidence(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Kernel side of the ``parallel`` check: run ``fn(*args)`` once, record its traced
    program as plain data and where each output array lives (how many devices)."""
    import jax

    from course.jaxtools._verify import jaxpr_record

    out = jax.block_until_ready(fn(*args))
    placement = [len(getattr(getattr(leaf, "sharding", None), "device_set", ()))
                 for leaf in jax.tree_util.tree_leaves(out)]
    return {"jaxpr": jaxpr_record(fn, *args), "devices": jax.local_device_count(),
            "placement": placement}


def _mutex(got: Any, want: Any, context: Mapping[str, Any], hidden: bool) -> str | None:
    """ps3's verdict on a mutual-exclusion algorithm: the grader replays the transition
    table the kernel recorded (:mod:`course.mutex._evidence`) in its own simulator and
    explorer, under the configuration and seeds of the trusted context."""
    from course.mutex._evidence import judge_behaviour

    return judge_behaviour(got, dict(context))


def _mutex_figure(got: Any, context: Mapping[str, Any]) -> str | None:
    from course.mutex._evidence import failure_figure

    return failure_figure(got, dict(context))


def _mutex_context(args: tuple[Any, ...]) -> dict[str, Any]:
    from course.mutex._evidence import config_spec
    from course.sim import Config

    config = next((a for a in args if isinstance(a, Config)), None)
    return {"config": config_spec(config)} if config is not None else {}


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
#: :func:`course.grader.judge_case`), ``parallel`` by :mod:`course.jaxtools`, ``mutex`` by
#: :mod:`course.mutex._evidence`.
CHECKS: dict[str, Check] = {c.name: c for c in (
    Check("exact", _exact, _no_context),
    Check("timestamps", _timestamps, _trace_context),
    Check("vectors", _vectors, _trace_context),
    Check("relation", _relation, _relation_context),
    Check("order", _order, _order_context),
    Check("relations", _relations, _trace_context),
    Check("allclose", _allclose, _no_context),
    Check("all_equal", _all_equal, _no_context),
    Check("per_device", _per_device, _no_context),
    Check("parallel", _parallel, _no_context),
    Check("mutex", _mutex, _mutex_context, _mutex_figure),
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
        said = "" if hidden or not raised[1] else f": {raised[1][:300]}"
        return f"{call} raised {_safe_name(raised[0])}{said}{suffix}"
    kind = CHECKS.get(check)
    if kind is None:
        return f"unknown check kind {check!r} (ask the instructor)"
    return kind.judge(value_enc, want_enc, context, hidden)


def figure_of(check: str, value_enc: Any, context: Mapping[str, Any]) -> str | None:
    """The picture of a wrong result for kinds that draw one (base64 PNG), else None; never
    raises (a value that cannot be drawn has no picture)."""
    kind = CHECKS.get(check)
    if kind is None or kind.figure is None or value_enc is None:
        return None
    try:
        return kind.figure(decode(value_enc), context)
    except Exception:
        return None
