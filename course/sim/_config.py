"""What a simulated run is made of: delays, crashes, the request workload, the network.

A run is a pure function of (algorithm, :class:`Config`, seed). Everything random (delays,
losses, a random CS duration) is drawn from one ``random.Random(seed)`` in event order;
nothing reads the wall clock or the global ``random`` module.

Rules of the configuration:

* ``n`` processes P0 … P(n-1).
* ``requests``: who asks for the critical section when. Either an int k ("every process
  asks k times, all at time 0") or pairs ``(pid, time)``. A request that comes while its
  process is still waiting or in the CS is kept and made the moment the process is idle
  again.
* ``delay``: the message delay distribution; ``fifo=True`` makes every channel
  first-in-first-out (a message never overtakes an earlier one on the same channel).
* ``loss``: probability that a message is dropped (off by default).
* ``cs_time``: how long a process stays in the CS (a number or a distribution).
* ``crashes``: :class:`Crash` entries; a crashed process does nothing more and messages
  to it are never received.
* ``max_time`` / ``max_events``: stop early (a run with a bug may never go quiet);
  ``max_events`` counts deliveries, requests, exits, timers and crashes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, cast, runtime_checkable

__all__ = ["Config", "Constant", "Crash", "Delay", "Exponential", "Uniform"]


@runtime_checkable
class Delay(Protocol):
    """A distribution of non-negative durations: ``sample(rng)`` draws one."""

    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class Constant:
    """Always ``value``."""

    value: float

    def __post_init__(self) -> None:
        if not isinstance(self.value, int | float) or not self.value >= 0:
            raise ValueError(f"Negative or non-numeric delay {self.value!r}")

    def sample(self, rng: random.Random) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"Constant({self.value:g})"


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(
                f"Uniform delay needs 0 <= low <= high, got low={self.low!r}, high={self.high!r}"
            )

    def sample(self, rng: random.Random) -> float:
        return self.low + (self.high - self.low) * rng.random()

    def __repr__(self) -> str:
        return f"Uniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class Exponential:
    """``minimum`` plus an exponential with the given ``mean`` (a heavy-ish tail)."""

    mean: float
    minimum: float = 0.0

    def __post_init__(self) -> None:
        if not self.mean > 0 or not self.minimum >= 0:
            raise ValueError(
                f"Exponential delay needs mean > 0 and minimum >= 0, got "
                f"mean={self.mean!r}, minimum={self.minimum!r}"
            )

    def sample(self, rng: random.Random) -> float:
        return self.minimum + rng.expovariate(1.0 / self.mean)

    def __repr__(self) -> str:
        return f"Exponential(mean={self.mean:g}, minimum={self.minimum:g})"


@dataclass(frozen=True)
class Crash:
    """Process ``pid`` crashes at simulated ``time``, or right after its ``event``-th
    recorded event (1-based, counting every local, send and receive event of that
    process; a crash in the middle of a broadcast sends only part of it). Give exactly
    one of the two.

    In exhaustive search (asynchronous: no time), a ``time`` crash may happen at any
    point; an ``event`` crash happens exactly there.
    """

    pid: int
    time: float | None = None
    event: int | None = None

    def __post_init__(self) -> None:
        if (self.time is None) == (self.event is None):
            raise ValueError(f"Give exactly one of time= and event= in {self!r}")
        if self.time is not None and not self.time >= 0:
            raise ValueError(f"Negative crash time in {self!r}")
        if self.event is not None and (not isinstance(self.event, int) or self.event < 1):
            raise ValueError(f"Crash event must be an int >= 1 in {self!r}")

    def __repr__(self) -> str:
        at = f"time={self.time:g}" if self.time is not None else f"event={self.event}"
        return f"Crash(P{self.pid}, {at})"


def _delay(value: object, what: str) -> Delay:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number or a distribution, got {value!r}")
    if isinstance(value, int | float):
        return Constant(float(value))
    if isinstance(value, Delay):
        return value
    raise TypeError(f"{what} must be a number or have .sample(rng), got {value!r}")


@dataclass(frozen=True)
class Config:
    """One scenario; see the module docstring for the rules. Immutable and hashable."""

    n: int = 3
    requests: int | tuple[tuple[int, float], ...] = 1
    delay: Delay | float = field(default_factory=lambda: Uniform(1.0, 2.0))
    fifo: bool = True
    loss: float = 0.0
    cs_time: Delay | float = 1.0
    crashes: tuple[Crash, ...] = ()
    max_time: float = math.inf
    max_events: int = 1_000_000

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"Need at least one process, got n={self.n!r}")
        reqs = self.requests
        if isinstance(reqs, int) and not isinstance(reqs, bool):
            if reqs < 0:
                raise ValueError(f"Negative number of requests {reqs}")
            reqs = tuple((p, 0.0) for _ in range(reqs) for p in range(self.n))
        else:
            pairs = []
            # reqs is whatever was passed (a bool, too, raises TypeError: not iterable)
            for r in cast("Iterable[object]", reqs):
                if (
                    not isinstance(r, tuple | list)
                    or len(r) != 2
                    or not isinstance(r[0], int)
                    or not 0 <= r[0] < self.n
                    or not isinstance(r[1], int | float)
                    or not r[1] >= 0
                ):
                    raise ValueError(
                        f"Bad request {r!r}: expected (pid, time) with "
                        f"0 <= pid < {self.n} and time >= 0"
                    )
                pairs.append((r[0], float(r[1])))
            reqs = tuple(sorted(pairs, key=lambda r: r[1]))  # stable: ties keep their order
        object.__setattr__(self, "requests", reqs)
        object.__setattr__(self, "delay", _delay(self.delay, "delay"))
        object.__setattr__(self, "cs_time", _delay(self.cs_time, "cs_time"))
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"Loss probability {self.loss!r} not in [0, 1]")
        crashes = tuple(self.crashes)
        for c in crashes:
            if not isinstance(c, Crash):
                raise TypeError(f"crashes must hold Crash(...) entries, got {c!r}")
            if not 0 <= c.pid < self.n:
                raise ValueError(f"{c!r}: no process P{c.pid} among {self.n}")
        pids = [c.pid for c in crashes]
        if len(set(pids)) != len(pids):
            raise ValueError(f"More than one crash for a process in {crashes!r}")
        object.__setattr__(self, "crashes", crashes)
        if not self.max_time > 0:
            raise ValueError(f"max_time must be positive, got {self.max_time!r}")
        if not isinstance(self.max_events, int) or self.max_events < 1:
            raise ValueError(f"max_events must be a positive int, got {self.max_events!r}")

    def requests_per_process(self) -> tuple[int, ...]:
        """How many times each process asks (exhaustive search ignores the times)."""
        counts = [0] * self.n
        for p, _ in self.requests:  # type: ignore[union-attr]
            counts[p] += 1
        return tuple(counts)

    def __repr__(self) -> str:
        counts = self.requests_per_process()
        reqs = f"{counts[0]} each" if len(set(counts)) == 1 else "/".join(map(str, counts))
        parts = [
            f"n={self.n}",
            f"requests={reqs}",
            f"delay={self.delay!r}",
            "FIFO" if self.fifo else "non-FIFO",
            f"cs_time={self.cs_time!r}",
        ]
        if self.loss:
            parts.append(f"loss={self.loss:g}")
        if self.crashes:
            parts.append(f"crashes={list(self.crashes)!r}")
        if self.max_time != math.inf:
            parts.append(f"max_time={self.max_time:g}")
        return f"Config({', '.join(parts)})"
