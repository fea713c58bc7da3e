"""Invariants of mutual exclusion, one object each, for seeded runs and the search alike.

An :class:`Invariant` (as DSLabs' state predicates) has a ``name``, a :class:`Kind` and
two checks of the same property:

* ``check_step(state)`` – on the step machine, after one step (the explorer calls it on
  every transition); ``check_final(state)`` – on a state where no step is possible;
* ``check_run(run)`` – on a finished :class:`course.sim.Run` (what :func:`check_seeds`
  calls on every seed).

Kinds, in the order a result reports them: ``safety`` (never two live processes in the
CS), ``error`` (a handler raised), ``deadlock`` (liveness: no step possible but a live
process waits or has requests left) and ``fairness``, in one of two flavours:

* ``"timestamp"`` – entries in (request timestamp, pid) order: the permission-based
  algorithms (:class:`Lamport`, :class:`RicartAgrawala`);
* ``"arrival"`` – a request that happened before another's is served first; concurrent
  requests in any order: the coordinator's FIFO queue (:class:`Centralized`).

An algorithm names its flavour in a class attribute ``fairness``; a class without one
(a student's) gets ``"timestamp"``, the lecture's total order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from course.mutex._checks import Verdict, check_fairness, check_liveness, check_safety
from course.sim import Run
from course.sim._kernel import IN_CS, WAITING
from course.sim._steps import Entry

__all__ = ["FAIRNESS_ORDERS", "Entry", "Invariant", "Kind", "MachineState", "fairness_order",
           "invariants_for",
           "resolve_fairness"]

FAIRNESS_ORDERS = ("timestamp", "arrival")


class Kind(StrEnum):
    """What an invariant protects; a result lists violations in this order."""

    SAFETY = "safety"
    ERROR = "error"
    DEADLOCK = "deadlock"
    FAIRNESS = "fairness"

    @property
    def rank(self) -> int:
        return list(Kind).index(self)


class MachineState(Protocol):
    """What an invariant reads of a state of the step machine (``StepKernel`` has it)."""

    @property
    def status(self) -> Sequence[int]: ...
    @property
    def crashed(self) -> Sequence[bool]: ...
    @property
    def remaining(self) -> Sequence[int]: ...
    @property
    def entries(self) -> Sequence[Entry]: ...  # the entries of the step just taken


@dataclass(frozen=True)
class Invariant:
    """A property with a state check and a run check (see the module docstring). The base
    class holds everywhere; subclasses override what they check."""

    name: str
    kind: Kind

    def check_step(self, state: MachineState) -> str | None:
        """Why ``state`` (just after a step) breaks the invariant, or None."""
        return None

    def check_final(self, state: MachineState) -> str | None:
        """Why ``state`` (no step possible) breaks the invariant, or None."""
        return None

    def check_run(self, run: Run) -> Verdict:
        """The verdict on a whole recorded run."""
        return Verdict(self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.kind.value})"


@dataclass(frozen=True, repr=False)
class Safety(Invariant):
    """At most one live process in the CS."""

    def check_step(self, state: MachineState) -> str | None:
        inside = [p for p, s in enumerate(state.status) if s == IN_CS and not state.crashed[p]]
        if len(inside) > 1:
            return f"{' and '.join(f'P{p}' for p in inside)} in the CS together"
        return None

    def check_run(self, run: Run) -> Verdict:
        return check_safety(run)


@dataclass(frozen=True, repr=False)
class NoDeadlock(Invariant):
    """When nothing can happen any more, no live process waits or has requests left."""

    def check_final(self, state: MachineState) -> str | None:
        stuck = [p for p in range(len(state.status)) if not state.crashed[p]
                 and (state.status[p] == WAITING or state.remaining[p])]
        if stuck:
            who = ", ".join(f"P{p}" for p in stuck)
            return f"no step possible but {who} still {'waits' if len(stuck) == 1 else 'wait'}"
        return None

    def check_run(self, run: Run) -> Verdict:
        return check_liveness(run)


@dataclass(frozen=True, repr=False)
class NoError(Invariant):
    """No handler raises (the explorer catches the exception itself; a run keeps it in
    ``run.error``)."""

    def check_run(self, run: Run) -> Verdict:
        return Verdict(self.name, (run.error,)) if run.error else Verdict(self.name)


@dataclass(frozen=True, repr=False)
class TimestampFairness(Invariant):
    """Entries in (request timestamp, pid) order."""

    def check_step(self, state: MachineState) -> str | None:
        for e in state.entries:
            mine = (e.ts, e.pid)
            if e.previous is not None and mine < e.previous:
                return (f"P{e.pid} entered with request (ts {e.ts}, pid {e.pid}) after a "
                        f"request (ts {e.previous[0]}, pid {e.previous[1]})")
            for q, ts, _ in e.waiting:
                if (ts, q) < mine:
                    return (f"P{e.pid} entered with request (ts {e.ts}, pid {e.pid}) while "
                            f"P{q} waits with the earlier (ts {ts}, pid {q})")
        return None

    def check_run(self, run: Run) -> Verdict:
        return check_fairness(run, "timestamp")


@dataclass(frozen=True, repr=False)
class ArrivalFairness(Invariant):
    """A request that happened before another's enters first (concurrent: any order)."""

    def check_step(self, state: MachineState) -> str | None:
        for e in state.entries:
            for q, _, before in e.waiting:
                if before:
                    return (f"P{e.pid} entered while P{q} waits with a request that "
                            f"happened before P{e.pid}'s")
        return None

    def check_run(self, run: Run) -> Verdict:
        return check_fairness(run, "causal")


SAFETY = Safety("safety", Kind.SAFETY)
NO_ERROR = NoError("error", Kind.ERROR)
NO_DEADLOCK = NoDeadlock("deadlock (liveness)", Kind.DEADLOCK)
FAIRNESS = {"timestamp": TimestampFairness("fairness (timestamp)", Kind.FAIRNESS),
            "arrival": ArrivalFairness("fairness (arrival)", Kind.FAIRNESS)}


def fairness_order(algorithm: Any) -> str:
    """The fairness flavour ``algorithm`` declares (class attribute ``fairness``), else
    ``"timestamp"``."""
    order = getattr(algorithm, "fairness", "timestamp")
    if order not in FAIRNESS_ORDERS:
        name = getattr(algorithm, "__name__", repr(algorithm))
        raise ValueError(f"{name}.fairness must be one of {FAIRNESS_ORDERS}, got {order!r}")
    return str(order)


def invariants_for(algorithm: Any, *, fairness: bool | str = False, deadlock: bool = True
                   ) -> tuple[Invariant, ...]:
    """Safety and errors always; deadlock when asked; fairness when asked, in the flavour
    given (``"timestamp"`` / ``"arrival"``) or, with ``True``, the algorithm's own."""
    out: list[Invariant] = [SAFETY, NO_ERROR]
    if deadlock:
        out.append(NO_DEADLOCK)
    order = resolve_fairness(algorithm, fairness)
    if order is not None:
        out.append(FAIRNESS[order])
    return tuple(out)


def resolve_fairness(algorithm: Any, fairness: bool | str | None) -> str | None:
    """The flavour ``fairness`` asks for: None (off), the algorithm's own for True, else
    the one named."""
    if not fairness:
        return None
    order = fairness_order(algorithm) if fairness is True else fairness
    if order not in FAIRNESS:
        raise ValueError(f"fairness must be True, False or one of {FAIRNESS_ORDERS}, "
                         f"got {fairness!r}")
    return str(order)
