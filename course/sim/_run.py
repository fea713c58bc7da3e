"""What a run leaves behind: the trace, CS intervals, message counts, crashes.

Events are named ``P<pid>.<k>`` (the k-th event of that process, from 1), messages
``m<i>`` in send order. Every event carries its simulated ``time`` and a ``tag``:
``cs-request``, ``cs-enter``, ``cs-exit``, ``timer`` or ``crash`` for local events, the
message type (``REQUEST``, ``REPLY``, ...) for sends and receives. So happens-before, the
total order and the space-time diagram of ``course`` work on ``run.trace`` unchanged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from course._model import Event, Kind, check_text
from course._trace import Trace
from course.sim._events import EventKind, LogEntry

if TYPE_CHECKING:
    from course.sim._config import Config

__all__ = ["CSInterval", "Run"]


@dataclass(frozen=True)
class CSInterval:
    """One request for the critical section: when it was made, entered and left.

    ``ts`` is the Lamport timestamp of the ``cs-request`` event. ``entered``/``exited``
    are None when that never happened; ``crashed`` when the process crashed while waiting
    or in the CS (then ``exit_event`` is its crash).
    """

    pid: int
    requested: float
    ts: int
    request_event: str
    entered: float | None = None
    enter_event: str | None = None
    exited: float | None = None
    exit_event: str | None = None
    crashed: bool = False

    @property
    def process(self) -> str:
        return f"P{self.pid}"

    @property
    def key(self) -> tuple[int, int]:
        """(request timestamp, pid): the lecture's total order of requests."""
        return (self.ts, self.pid)

    def __repr__(self) -> str:
        s = f"CSInterval(P{self.pid} asked at {self.requested:g} (ts {self.ts})"
        if self.entered is not None:
            s += f", in CS {self.entered:g}–"
            s += "…" if self.exited is None else f"{self.exited:g}"
        else:
            s += ", never entered"
        return s + (", crashed)" if self.crashed else ")")


class Run:
    """The result of :func:`course.sim.simulate` or :func:`course.sim.replay`.

    ``trace`` (built on first use), ``timestamps`` (event → the Lamport timestamp the
    simulator used), ``order`` (events in execution order), ``intervals`` (every request,
    in request order), ``entries`` (the intervals that entered, in entry order),
    ``messages`` (count of sent messages by type), ``crashes`` (pid → time), plus
    ``seed``, ``config``, ``schedule`` (replays), ``end_time`` and ``quiescent`` (True
    when the run stopped because nothing was left to happen, False at a limit).
    """

    def __init__(self, *, algorithm: str, config: Config, seed: int | None, n: int,
                 log: list[tuple[Any, ...]],
                 intervals: list[dict[str, Any]], crashes: dict[int, float],
                 end_time: float, quiescent: bool, messages_sent: int, delivered: int,
                 lost: int = 0, schedule: tuple | None = None,
                 error: str | None = None, recorded: bool = True) -> None:
        self.algorithm = algorithm
        self.config = config
        self.seed = seed
        self.n = n
        self._raw = log
        self.intervals = tuple(CSInterval(**iv) for iv in intervals)
        self.crashes = dict(crashes)
        self.end_time = end_time
        self.quiescent = quiescent
        self.messages_sent = messages_sent
        self.delivered = delivered
        self.lost = lost
        self.schedule = schedule
        self.error = error
        self.recorded = recorded

    def require_record(self) -> None:
        """Raise unless events were recorded (``simulate(..., record=False)`` keeps none)."""
        if not self.recorded:
            raise ValueError(f"{self!r} was simulated with record=False: no trace or CS "
                             f"intervals to look at")

    @property
    def processes(self) -> tuple[str, ...]:
        return tuple(f"P{p}" for p in range(self.n))

    def __len__(self) -> int:
        """Number of recorded events."""
        return len(self._raw)

    @cached_property
    def log(self) -> tuple[LogEntry, ...]:
        """Every recorded event as a :class:`LogEntry`, in execution order. The simulator's
        hot path appends plain tuples in LogEntry's field order (a named tuple built per
        event would cost a tenth of its speed); they become typed records here, once."""
        new, kinds = tuple.__new__, {k.value: k for k in EventKind}
        return tuple(new(LogEntry, (p, kinds[k], m, tag, t, ts))
                     for p, k, m, tag, t, ts in self._raw)

    def prefix(self, k: int) -> Trace:
        """The trace of the first ``k`` events in execution order (a consistent cut)."""
        self.require_record()
        if not 0 <= k <= len(self.log):
            raise ValueError(f"Prefix length {k} not in 0..{len(self.log)}")
        names = self.processes
        t = Trace(names)
        # The simulator made the names, indexes, messages and times; only a tag (a message
        # type a node chose) can break a rule, so each distinct tag is checked once, by the
        # builder's own rule, and the events go in as a bulk import.
        per: dict[str, list[Event]] = {p: [] for p in names}
        checked: set[str | None] = set()
        kinds: dict[EventKind, Kind] = {EventKind.SEND: "send", EventKind.RECEIVE: "receive"}
        for e, name in zip(self.log[:k], self.order, strict=False):
            p = names[e.pid]
            if e.tag not in checked:
                checked.add(check_text(e.tag, f"Event {name!r}: tag"))
            kind = kinds.get(e.kind, "local")
            evs = per[p]
            evs.append(Event(name, p, len(evs), kind, None if kind == "local" else f"m{e.mid}",
                             e.tag, e.time))
        for p in names:
            t._extend_checked_elsewhere(p, per[p])
        return t

    @cached_property
    def trace(self) -> Trace:
        """Every recorded event as a validated :class:`course.Trace`."""
        return self.prefix(len(self.log)).validate()

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Event names in the order they happened in the simulation."""
        count = [0] * self.n
        out = []
        for entry in self.log:
            pid = entry.pid
            count[pid] += 1
            out.append(f"P{pid}.{count[pid]}")
        return tuple(out)

    @cached_property
    def position(self) -> dict[str, int]:
        """Event name → its index in :attr:`order`."""
        return {name: i for i, name in enumerate(self.order)}

    @cached_property
    def timestamps(self) -> dict[str, int]:
        """Event name → the Lamport timestamp the simulator gave it (the ``msg.ts`` the
        algorithms saw; a broadcast's copies share one)."""
        return {name: e.ts for name, e in zip(self.order, self.log, strict=True)}

    def time_of(self, k: int) -> float:
        """Simulated time of the k-th event (1-based; 0 → time 0)."""
        return 0.0 if k == 0 else self.log[k - 1].time

    @cached_property
    def messages(self) -> Counter[str]:
        """Sent messages by type."""
        return Counter(e.tag for e in self.log if e.kind == EventKind.SEND)  # type: ignore[misc]

    @cached_property
    def entries(self) -> tuple[CSInterval, ...]:
        """Intervals that entered the CS, in the order they entered."""
        pos = self.position
        return tuple(sorted((iv for iv in self.intervals if iv.enter_event is not None),
                            key=lambda iv: pos[iv.enter_event]))  # type: ignore[index]

    def __repr__(self) -> str:
        how = f"seed={self.seed}" if self.schedule is None else f"{len(self.schedule)} steps"
        msgs = " ".join(f"{k}={v}" for k, v in sorted(self.messages.items())) or "none"
        entered = sum(iv.entered is not None for iv in self.intervals)
        s = (f"Run({self.algorithm}, n={self.n}, {how}, t={self.end_time:g}: "
             f"{entered}/{len(self.intervals)} requests entered, messages {msgs}")
        if self.crashes:
            s += ", crashed " + ", ".join(f"P{p}@{t:g}" for p, t in sorted(self.crashes.items()))
        if not self.quiescent:
            s += ", stopped at a limit" if self.schedule is None else ", more steps possible"
        if self.error:
            s += f", error: {self.error}"
        if not self.recorded:
            s = s.replace(f": {entered}/{len(self.intervals)} requests entered, messages none",
                          f": {self.delivered:,} deliveries, not recorded")
        return s + ")"
