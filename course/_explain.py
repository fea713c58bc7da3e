"""Failure messages for grade cells: a wrong answer explained in terms of the lecture.

Each ``explain_*`` takes the trace, the student's answer and the expected one and returns a
short account: the clock-condition violations (the pair of events), the first wrong event in
causal order, the chain of rule-1/rule-2 steps behind a happens-before answer, or the
problems of a total order — followed by the trace itself. Re-exported by
:mod:`course.grading`, which grade cells import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from course._order import HappensBefore as _HappensBefore
from course._order import check_clock_condition as _check_clock_condition
from course._order import check_total_order as _check_total_order
from course._order import direct_steps
from course._trace import Trace

__all__ = ["explain_order", "explain_relation", "explain_timestamps", "explain_vectors"]


_RULES = {
    "lamport": {"local": "rule 2: one more than the process's previous event (0 before its "
                         "first)",
                "send": "rule 2: a send is an event too, one more than the process's previous "
                        "event",
                "receive": "rule 3: max(the process's clock, the message's timestamp) + 1"},
    "vector": {"local": "the process's own entry goes up by one, the others stay",
               "send": "the process's own entry goes up by one, the others stay",
               "receive": "first the entrywise max with the message's vector, then the "
                          "process's own entry goes up by one"},
}


def _first_wrong(trace: Trace, got: Mapping[str, Any], want: Mapping[str, Any],
                 hidden: bool = False, rules: str = "lamport") -> list[str]:
    """The first event, in causal order, whose value differs (as a one-line list). With
    ``hidden`` the expected value is not shown: the rule it breaks is."""
    for e in trace.causal_order():
        if got.get(e.name) != want.get(e.name):
            what = {"local": "a local event", "send": f"the send of {e.message}",
                    "receive": f"the receive of {e.message}"}[e.kind]
            head = f"First wrong event (in causal order): {e.name} ({what} on {e.process})"
            if hidden:
                return [f"{head}: you gave {got.get(e.name)}, which breaks "
                        f"{_RULES[rules][e.kind]} (every event before it is right)."]
            return [f"{head}: expected {want.get(e.name)}, got {got.get(e.name)}."]
    return []


def _trace_block(trace: Trace) -> str:
    text = trace.to_text()
    if len(text) > 1500:
        text = text[:1500] + "...\n"
    return "Trace (x!m sends m, x?m receives m):\n" + "".join(f"    {ln}\n"
                                                              for ln in text.splitlines())


def explain_timestamps(trace: Trace, got: Mapping[str, int], want: Mapping[str, int],
                       label: str = "", hidden: bool = False) -> str:
    """Why ``got`` is not ``want``: clock-condition violations first (the pair of events),
    else the first event, in causal order, whose timestamp differs. ``hidden``: never show
    an expected value (a hidden test), only the rule that is broken."""
    head = f"Wrong Lamport timestamps{' on ' + label if label else ''}."
    lines = [head]
    try:
        violations = _check_clock_condition(trace, got)
    except (TypeError, ValueError) as exc:
        violations = []
        lines.append(f"(could not check the clock condition: {exc})")
    if violations:
        lines.append("They break the clock condition (a → b must give TS(a) < TS(b)):")
        lines += [f"    {v}" for v in violations[:3]]
        if len(violations) > 3:
            lines.append(f"    ... and {len(violations) - 3} more")
    lines += _first_wrong(trace, got, want, hidden)
    lines.append(_trace_block(trace))
    return "\n".join(lines)


def explain_vectors(trace: Trace, got: Mapping[str, tuple[int, ...]],
                    want: Mapping[str, tuple[int, ...]], label: str = "",
                    hidden: bool = False) -> str:
    lines = [f"Wrong vector timestamps{' on ' + label if label else ''}. Entries follow "
             f"trace.processes = {list(trace.processes)}."]
    lines += _first_wrong(trace, got, want, hidden, "vector")
    lines.append(_trace_block(trace))
    return "\n".join(lines)


def explain_relation(trace: Trace, fn: str, a: str, b: str, got: object, want: bool,
                     label: str = "", hidden: bool = False) -> str:
    """Why ``fn(trace, a, b)`` should be ``want``, in terms of the three rules."""
    hb = _HappensBefore(trace)
    if a == b:
        why = "an event never happens before itself and is not concurrent with itself"
    elif hb.happens_before(a, b):
        why = f"{a} → {b}: " + _path(trace, a, b)
    elif hb.happens_before(b, a):
        why = f"{b} → {a}: " + _path(trace, b, a)
    else:
        why = (f"{a} and {b} are concurrent: no chain of same-process steps and messages "
               f"leads from one to the other")
    where = f" on {label}" if label else ""
    said = "which is wrong" if hidden else f"expected {want!r}"
    return (f"{fn}(trace, {a!r}, {b!r}) returned {got!r}, {said}{where}.\n"
            f"Because {why}.\n{_trace_block(trace)}")


def _path(trace: Trace, a: str, b: str) -> str:
    """A chain of direct steps from a to b (BFS over rules 1 and 2)."""
    nxt: dict[str, list[tuple[str, str]]] = {}
    for x, y, rule in direct_steps(trace):
        nxt.setdefault(x, []).append((y, rule))
    prev: dict[str, tuple[str, str]] = {}
    frontier = [a]
    seen = {a}
    while frontier:
        new = []
        for x in frontier:
            for y, how in nxt.get(x, []):
                if y not in seen:
                    seen.add(y)
                    prev[y] = (x, how)
                    new.append(y)
        frontier = new
    if b not in prev:
        return "(no path found)"
    steps = []
    cur = b
    while cur != a:
        x, how = prev[cur]
        steps.append(f"{x} → {cur} ({how})")
        cur = x
    return ", ".join(reversed(steps))


def explain_order(trace: Trace, got: Sequence[str], want: Sequence[str],
                  timestamps: Mapping[str, int], label: str = "", hidden: bool = False) -> str:
    """Why ``got`` is not the (TS, process id) total order ``want`` (``hidden``: the
    expected order is not shown, only the problems with ``got``)."""
    lines = [f"Wrong total order{' on ' + label if label else ''}.",
             "Process ids: " + ", ".join(f"{p}={i}" for i, p in enumerate(trace.processes)),
             "Timestamps: " + ", ".join(f"{e.name}={timestamps.get(e.name)}"
                                        for e in trace.events)]
    if not hidden:
        lines.append(f"Expected: {' '.join(want)}")
    lines.append(f"Got:      {' '.join(map(str, got))}")
    try:
        problems = _check_total_order(trace, list(got), dict(timestamps))
    except (TypeError, ValueError) as exc:
        problems = []
        lines.append(f"(could not check the order: {exc})")
    lines += [f"    {p}" for p in problems[:4]]
    lines.append(_trace_block(trace))
    return "\n".join(lines)
