"""Happens-before, the clock condition and the total order.

Happens-before (→) is the smallest relation with the lecture's three rules:

1. same process: a comes before b on one process ⇒ a → b;
2. message: the send of m → the receive of m;
3. transitivity: a → b and b → c ⇒ a → c.

It is a strict partial order: never a → a. Events with neither a → b nor b → a are
*concurrent* (a ∥ b). The *clock condition* asks of timestamps TS that a → b ⇒ TS(a) <
TS(b); it holds for every pair iff it holds for every direct step (rules 1 and 2).
The *total order* sorts events by (TS, process id): the lecture's tie-break.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral

from course._model import TraceBase as Trace
from course._model import TraceError

__all__ = [
    "HappensBefore",
    "OrderProblem",
    "Violation",
    "check_clock_condition",
    "check_total_order",
    "concurrent",
    "direct_steps",
    "happens_before",
    "total_order",
]


class HappensBefore:
    """An index answering happens-before queries in O(1) after an O(events · P) build.

    For each event it keeps the vector clock *as of the last receive on its process* (a
    tuple shared by all events between two receives) and its position; its own entry is its
    position + 1. Then a → b iff a ≠ b and VC(b)[pid(a)] ≥ position(a) + 1.
    """

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        procs = trace.processes
        n = len(procs)
        pid_of = {p: i for i, p in enumerate(procs)}
        self._pid: dict[str, int] = {}
        self._pos: dict[str, int] = {}
        self._base: dict[str, tuple[int, ...]] = {}
        current: list[tuple[int, ...]] = [(0,) * n for _ in procs]
        sends = trace.sends()
        # event name -> its full vector, kept only for events another event reads
        self._vec: dict[str, tuple[int, ...]] = {}
        vec = self._vec
        read = {s.name for s in sends.values()}
        read.update(s for e in trace.events for s in e.sources)
        for e in trace.causal_order():
            p = pid_of[e.process]
            base = current[p]
            if e.kind == "receive" and e.message is not None:
                base = tuple(map(max, base, vec[sends[e.message].name]))
            for s in e.sources:
                base = tuple(map(max, base, vec[s]))
            current[p] = base
            self._pid[e.name] = p
            self._pos[e.name] = e.index
            self._base[e.name] = base
            if e.name in read:
                vc = list(base)
                vc[p] = e.index + 1
                vec[e.name] = tuple(vc)

    def _check(self, name: str) -> None:
        if name not in self._pid:
            raise TraceError(f"Unknown event {name!r}")

    def happens_before(self, a: str, b: str) -> bool:
        """a → b (strict: False when a == b)."""
        self._check(a)
        self._check(b)
        pa = self._pid[a]
        if pa == self._pid[b]:
            return self._pos[a] < self._pos[b]
        return self._base[b][pa] >= self._pos[a] + 1

    def concurrent(self, a: str, b: str) -> bool:
        """a ∥ b: distinct events with neither a → b nor b → a."""
        return a != b and not self.happens_before(a, b) and not self.happens_before(b, a)

    def vector(self, name: str) -> tuple[int, ...]:
        """The vector timestamp of an event."""
        self._check(name)
        vc = list(self._base[name])
        vc[self._pid[name]] = self._pos[name] + 1
        return tuple(vc)

    def past(self, name: str) -> set[str]:
        """Events that happen before ``name`` (its causal past)."""
        return {e.name for e in self.trace.events if self.happens_before(e.name, name)}

    def future(self, name: str) -> set[str]:
        """Events that ``name`` happens before (its causal future)."""
        return {e.name for e in self.trace.events if self.happens_before(name, e.name)}

    def concurrent_with(self, name: str) -> set[str]:
        return {e.name for e in self.trace.events if self.concurrent(name, e.name)}

    def __repr__(self) -> str:
        return f"HappensBefore({self.trace!r})"


def happens_before(trace: Trace, a: str, b: str) -> bool:
    """a → b in ``trace``. Build a :class:`HappensBefore` once for many queries."""
    return HappensBefore(trace).happens_before(a, b)


def concurrent(trace: Trace, a: str, b: str) -> bool:
    """a ∥ b in ``trace`` (False when a == b)."""
    return HappensBefore(trace).concurrent(a, b)


def direct_steps(trace: Trace) -> Iterable[tuple[str, str, str]]:
    """The generating steps of →: (a, b, rule) for rule 1 (next event on a process) and
    rule 2 (send → receive of a message)."""
    for p in trace.processes:
        evs = trace.events_of(p)
        for x, y in itertools.pairwise(evs):
            yield x.name, y.name, f"rule 1: both on {p}"
    for a, b, m in trace.edges():
        yield a, b, f"rule 2: message {m}" if m is not None else f"rule 2: {b} follows {a}"


@dataclass(frozen=True)
class Violation:
    """A step a → b whose timestamps break the clock condition (TS(a) >= TS(b))."""

    earlier: str
    later: str
    ts_earlier: object
    ts_later: object
    rule: str

    def __str__(self) -> str:
        return (f"{self.earlier} → {self.later} ({self.rule}) but TS({self.earlier}) = "
                f"{self.ts_earlier} is not < TS({self.later}) = {self.ts_later}")

    def __repr__(self) -> str:
        return f"Violation({self})"


def _validated_timestamps(trace: Trace, timestamps: Mapping[str, object]) -> dict[str, int]:
    if not isinstance(timestamps, Mapping):
        raise TypeError(f"Timestamps must be a mapping event name → int, got "
                        f"{type(timestamps).__name__}: {timestamps!r:.80}")
    names = {e.name for e in trace.events}
    missing = [n for n in (e.name for e in trace.events) if n not in timestamps]
    if missing:
        raise ValueError(f"Timestamps missing for events {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}")
    extra = [k for k in timestamps if k not in names]
    if extra:
        raise ValueError(f"Timestamps given for events not in the trace: {extra[:10]!r}")
    out: dict[str, int] = {}
    for k, v in timestamps.items():
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise TypeError(f"Timestamp of {k!r} must be an int, got {v!r} "
                            f"({type(v).__name__})")
        out[k] = int(v)
    return out


def check_clock_condition(trace: Trace, timestamps: Mapping[str, int]) -> list[Violation]:
    """Every direct step a → b with TS(a) >= TS(b); empty iff the clock condition holds
    for every pair of events."""
    ts = _validated_timestamps(trace, timestamps)
    return [Violation(a, b, ts[a], ts[b], rule) for a, b, rule in direct_steps(trace)
            if ts[a] >= ts[b]]


def total_order(trace: Trace, timestamps: Mapping[str, int] | None = None) -> list[str]:
    """All events sorted by (TS, process id); Lamport timestamps when none are given."""
    if timestamps is None:
        from course._clocks import lamport_timestamps

        timestamps = lamport_timestamps(trace)
    ts = _validated_timestamps(trace, timestamps)
    pid = {p: i for i, p in enumerate(trace.processes)}
    return [e.name for e in sorted(trace.events, key=lambda e: (ts[e.name], pid[e.process],
                                                                 e.index))]


@dataclass(frozen=True)
class OrderProblem:
    """One reason a proposed total order is wrong."""

    kind: str  # "missing", "duplicate", "unknown", "happens-before", "tie-break", "timestamp"
    events: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"

    def __repr__(self) -> str:
        return f"OrderProblem({self})"


def check_total_order(trace: Trace, order: Iterable[str],
                      timestamps: Mapping[str, int] | None = None) -> list[OrderProblem]:
    """Problems with ``order`` as the lecture's total order; empty when it is right.

    It must list every event once, be a linear extension of happens-before, and order
    events by (TS, process id) — Lamport timestamps unless ``timestamps`` are given.
    """
    if isinstance(order, (str, bytes)) or not isinstance(order, Iterable):
        raise TypeError(f"An order must be a list of event names, got "
                        f"{type(order).__name__} {order!r:.60}")
    order = list(order)
    bad = [x for x in order if not isinstance(x, str)]
    if bad:
        raise TypeError(f"An order lists event names (str), got {bad[0]!r:.60} "
                        f"({type(bad[0]).__name__})")
    problems: list[OrderProblem] = []
    names = [e.name for e in trace.events]
    seen: set[str] = set()
    for x in order:
        if x not in trace:
            problems.append(OrderProblem("unknown", (str(x),), f"{x!r} is not an event"))
        elif x in seen:
            problems.append(OrderProblem("duplicate", (x,), f"{x!r} appears more than once"))
        seen.add(x)
    for n in names:
        if n not in seen:
            problems.append(OrderProblem("missing", (n,), f"event {n!r} is not in the order"))
    if problems:
        return problems
    pos = {x: i for i, x in enumerate(order)}
    for a, b, rule in direct_steps(trace):
        if pos[a] > pos[b]:
            problems.append(OrderProblem("happens-before", (a, b),
                                         f"{a} → {b} ({rule}) but {b} is placed first"))
    if timestamps is None:
        from course._clocks import lamport_timestamps

        timestamps = lamport_timestamps(trace)
    ts = _validated_timestamps(trace, timestamps)
    pid = {p: i for i, p in enumerate(trace.processes)}
    for x, y in itertools.pairwise(order):
        kx, ky = (ts[x], pid[trace[x].process]), (ts[y], pid[trace[y].process])
        if kx > ky:
            kind = "tie-break" if kx[0] == ky[0] else "timestamp"
            problems.append(OrderProblem(
                kind, (x, y), f"{x} (TS {kx[0]}, pid {kx[1]}) placed before {y} "
                f"(TS {ky[0]}, pid {ky[1]})"))
    return problems
