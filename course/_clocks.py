"""Clocks: Lamport's logical clock, vector clocks, and drifting physical clocks.

Lamport's rules, exactly as in the lecture:

1. A process starts with clock 0.
2. Every event (local, send or receive) increments the clock; a send carries the new value.
3. On receive: clock = max(own clock, message timestamp) + 1.

Vector clocks keep one counter per process: an event increments its own entry, a receive
first takes the element-wise maximum with the message's vector. They characterise
happens-before exactly: a → b iff VC(a) <= VC(b) element-wise and VC(a) != VC(b).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from course._model import TraceBase as Trace

__all__ = [
    "LamportClock",
    "PhysicalClock",
    "VectorClock",
    "lamport_timestamps",
    "physical_timestamps",
    "vector_timestamps",
]


class LamportClock:
    """A Lamport clock: ``tick()`` for a local event, ``send()`` before sending (returns the
    timestamp to attach), ``receive(ts)`` on delivery (returns the receive event's time)."""

    def __init__(self, time: int = 0) -> None:
        if not isinstance(time, int) or isinstance(time, bool) or time < 0:
            raise ValueError(f"A Lamport clock starts at a non-negative int, got {time!r}")
        self.time = time

    def tick(self) -> int:
        self.time += 1
        return self.time

    def send(self) -> int:
        return self.tick()

    def receive(self, timestamp: int) -> int:
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise TypeError(f"Message timestamp must be an int, got {timestamp!r}")
        self.time = max(self.time, timestamp) + 1
        return self.time

    def __repr__(self) -> str:
        return f"LamportClock(time={self.time})"


class VectorClock:
    """A vector clock for process ``pid`` of ``n`` processes."""

    def __init__(self, pid: int, n: int) -> None:
        if not 0 <= pid < n:
            raise ValueError(f"pid {pid} out of range for {n} processes")
        self.pid = pid
        self.vector = [0] * n

    def tick(self) -> tuple[int, ...]:
        self.vector[self.pid] += 1
        return tuple(self.vector)

    def send(self) -> tuple[int, ...]:
        return self.tick()

    def receive(self, vector: Sequence[int]) -> tuple[int, ...]:
        if len(vector) != len(self.vector):
            raise ValueError(f"Vector {tuple(vector)} has {len(vector)} entries, "
                             f"expected {len(self.vector)}")
        self.vector = [max(a, b) for a, b in zip(self.vector, vector, strict=True)]
        return self.tick()

    def __repr__(self) -> str:
        return f"VectorClock(pid={self.pid}, vector={tuple(self.vector)})"


def lamport_timestamps(trace: Trace) -> dict[str, int]:
    """Lamport timestamp of every event of ``trace`` (lecture example: a=1 b=2 c=3 d=4 e=1
    f=5). An event with sources (an imported log's edges) takes the maximum over them all."""
    sends = trace.sends()
    cur = dict.fromkeys(trace.processes, 0)
    out: dict[str, int] = {}
    for e in trace.causal_order():
        c = cur[e.process]
        if e.kind == "receive" and e.message is not None:
            c = max(c, out[sends[e.message].name])
        for s in e.sources:
            c = max(c, out[s])
        cur[e.process] = out[e.name] = c + 1
    return out


def vector_timestamps(trace: Trace) -> dict[str, tuple[int, ...]]:
    """Vector timestamp of every event; entries follow the trace's process order.

    One walk in a causal order (as :meth:`Trace.causal_order` makes it: each process runs as
    far as it can, an event waits for the send it receives and the sources it follows),
    keeping each process's current vector: a max over P entries at each receive, one tuple
    per event."""
    procs = trace.processes
    n = len(procs)
    lists = [trace.events_of(p) for p in procs]
    sends = trace.sends()
    cur = [[0] * n for _ in procs]
    pos = [0] * n
    out: dict[str, tuple[int, ...]] = {}
    waiting: dict[str, list[int]] = {}  # event name -> processes blocked on it
    ready = list(range(n - 1, -1, -1))
    any_sources = trace.has_sources
    while ready:
        p = ready.pop()
        evs = lists[p]
        c = cur[p]
        i, stop = pos[p], len(evs)
        while i < stop:
            e = evs[i]
            if e.kind == "receive" or e.sources:
                deps = [s.name for s in (sends.get(e.message),) if s is not None] \
                    if e.message is not None else []
                if e.kind == "receive" and not deps:
                    trace.causal_order()  # raises: a receive of a message never sent
                deps.extend(e.sources)
                blocked = next((d for d in deps if d not in out), None)
                if blocked is not None:
                    waiting.setdefault(blocked, []).append(p)
                    break
                for d in deps:
                    c = list(map(max, c, out[d]))
            c[p] += 1
            out[e.name] = tuple(c)
            i += 1
            if waiting and (e.kind == "send" or any_sources):
                woken = waiting.pop(e.name, None)
                if woken:
                    ready.extend(woken)
        pos[p] = i
        cur[p] = c
    if len(out) < len(trace):
        trace.causal_order()  # raises, naming the cycle
    return out


@dataclass(frozen=True)
class PhysicalClock:
    """A physical clock that reads ``offset + (1 + drift) * true_time`` seconds.

    ``drift`` is a rate error (1e-5 = 10 ppm; quartz is typically 1e-6..1e-4) and
    ``offset`` the error at true time 0. ``resolution`` rounds readings down (1e-3 = ms).
    """

    offset: float = 0.0
    drift: float = 0.0
    resolution: float = 1e-3

    def __post_init__(self) -> None:
        if self.resolution <= 0:
            raise ValueError(f"Non-positive resolution {self.resolution}")
        if self.drift <= -1:
            raise ValueError(f"Drift {self.drift} would make the clock run backwards")

    @classmethod
    def random(cls, seed: int, *, max_offset: float = 2e-3, max_drift: float = 1e-4,
               resolution: float = 1e-3) -> PhysicalClock:
        """A clock with offset and drift drawn uniformly from ±max, deterministic in seed."""
        rng = random.Random(seed)
        return cls(rng.uniform(-max_offset, max_offset), rng.uniform(-max_drift, max_drift),
                   resolution)

    def read(self, true_time: float) -> float:
        raw = self.offset + (1.0 + self.drift) * true_time
        steps = int(raw / self.resolution + 1e-9 * (1 if raw >= 0 else -1))
        return round(steps * self.resolution, 9)

    def __repr__(self) -> str:
        return (f"PhysicalClock(offset={self.offset:+.6f}s, drift={self.drift * 1e6:+.1f}ppm,"
                f" resolution={self.resolution:g}s)")


def physical_timestamps(trace: Trace, clocks: Mapping[str, PhysicalClock]) -> dict[str, float]:
    """Each event's reading of its own process's physical clock at its true ``time``.

    Every event must carry a true time (``Event.time``); every process needs a clock.
    """
    out: dict[str, float] = {}
    for e in trace.events:
        if e.time is None:
            raise ValueError(f"{e!r} has no true time; physical timestamps need Event.time")
        if e.process not in clocks:
            raise ValueError(f"No physical clock for process {e.process!r}")
        out[e.name] = clocks[e.process].read(e.time)
    return out
