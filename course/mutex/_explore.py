"""Schedule exploration: many random seeds, or every delivery order of a small system.

:func:`explore` searches the steps of ``course.sim.StepKernel`` breadth first from the
start, hashing each state (every process's attributes + clocks, CS states, requests left,
messages in flight, timers). It checks the invariants of :mod:`course.mutex._invariants`
(the same objects :func:`check_seeds` checks on seeded runs): safety and fairness after
every step, errors (a handler raised, e.g. ``enter_cs()`` while not waiting) on every
step, deadlock in every state where no step is possible. Fairness (``fairness=True``) is
the algorithm's own flavour (``"timestamp"`` or ``"arrival"``, see
:func:`~course.mutex._invariants.fairness_order`), or the one named.

It reports "space exhausted, K states" or the first violation. Breadth first means the
schedule found is a shortest one: a minimal counterexample, replayable with
:meth:`Exploration.replay` and drawable as a space-time diagram.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from course.mutex._checks import Verdict
from course.mutex._invariants import (
    NO_ERROR,
    Invariant,
    Kind,
    invariants_for,
    resolve_fairness,
)
from course.mutex._search import Budget, StateGraph, bfs
from course.mutex._vsearch import vbfs
from course.sim import Config, Run, Step, replay
from course.sim._kernel import Algorithm, HandlerFailure, _Timed

__all__ = ["Exploration", "SeedSweep", "check_seeds", "explore"]


@dataclass(frozen=True)
class Violation:
    """One broken invariant: its kind, why, and a shortest schedule that shows it."""

    kind: Kind
    violation: str
    schedule: tuple[Step, ...]
    invariant: str = ""

    def __repr__(self) -> str:
        return (f"Violation({self.kind.value} after {len(self.schedule)} steps: "
                f"{self.violation})")


@dataclass
class Exploration:
    """Result of :func:`explore`. Truthy when the whole space was searched without a
    violation. ``violations`` holds one per broken kind (safety, error, deadlock,
    fairness, in that order), each with its own shortest schedule; ``violation``,
    ``kind`` and ``schedule`` are the first's. ``exhausted``: the search finished (every
    state seen, or every kind it checks broken) rather than stopping at the state limit."""

    algorithm: Algorithm = field(repr=False)
    config: Config
    states: int
    transitions: int
    seconds: float
    exhausted: bool
    violation: str | None = None
    kind: str | None = None  # "safety" | "error" | "deadlock" | "fairness"
    schedule: tuple[Step, ...] = ()
    violations: tuple[Violation, ...] = ()

    def __post_init__(self) -> None:
        if self.violations and self.violation is None:
            first = self.violations[0]
            self.violation, self.kind, self.schedule = (first.violation, first.kind,
                                                        first.schedule)

    @property
    def ok(self) -> bool:
        return self.exhausted and self.violation is None

    def __bool__(self) -> bool:
        return self.ok

    def replay(self, kind: str | None = None) -> Run:
        """Run the counterexample schedule (of ``kind``, default the first) again,
        recording its trace."""
        schedule = self.schedule
        if kind is not None:
            match = [v for v in self.violations if v.kind == kind]
            if not match:
                raise ValueError(f"No {kind!r} violation in {self!r}")
            schedule = match[0].schedule
        return replay(self.algorithm, self.config, schedule)

    def __str__(self) -> str:
        return self.summary(timing=True)

    def summary(self, *, timing: bool = False) -> str:
        """The verdict, state counts and counterexamples; wall-clock seconds only with
        ``timing=True`` (so the rest can be compared across runs, e.g. by nbval)."""
        name = getattr(self.algorithm, "__name__", repr(self.algorithm))
        head = (f"{name}, {self.config!r}: ")
        stats = f"{self.states:,} states, {self.transitions:,} transitions"
        if timing:
            stats += f", {self.seconds:.2f} s"
        found = self.violations or ((Violation(Kind(self.kind), self.violation,
                                               self.schedule),)
                                    if self.violation is not None and self.kind else ())
        if found:
            parts = []
            for i, v in enumerate(found):
                steps = "\n".join(f"  {j + 1:2d}. {s!r}" for j, s in enumerate(v.schedule))
                lead = head if i == 0 else ("and an " if v.kind is Kind.ERROR else "and a ")
                tail = f" ({stats})" if i == 0 else ""
                parts.append(f"{lead}{v.kind.value} violation after {len(v.schedule)} steps"
                             f"{tail}: {v.violation}\n{steps}")
            return "\n".join(parts)
        if not self.exhausted:
            return f"{head}stopped at the state limit, no violation so far ({stats})"
        return f"{head}space exhausted, {stats}, no violation"

    def __repr__(self) -> str:
        return f"Exploration({str(self).splitlines()[0]})"


class _Found:
    """The first (hence shortest, breadth first) violation of each kind."""

    def __init__(self, kinds: set[Kind]) -> None:
        self.kinds = kinds
        self.by_kind: dict[Kind, Violation] = {}

    def add(self, inv: Invariant | Kind, why: str, schedule: list[Step]) -> None:
        kind = inv if isinstance(inv, Kind) else inv.kind
        if kind not in self.by_kind:
            name = "" if isinstance(inv, Kind) else inv.name
            self.by_kind[kind] = Violation(kind, why, tuple(schedule), name)

    def has(self, kind: Kind) -> bool:
        return kind in self.by_kind

    @property
    def complete(self) -> bool:
        return self.kinds <= self.by_kind.keys()

    def sorted(self) -> tuple[Violation, ...]:
        return tuple(sorted(self.by_kind.values(), key=lambda v: v.kind.rank))


def explore(algorithm: Algorithm, config: Config | None = None, *, fairness: bool | str = False,
            deadlock: bool = True, max_states: int = 2_000_000,
            more_states: int = 100_000, engine: str = "numpy") -> Exploration:
    """Breadth-first search over every schedule of ``algorithm`` under ``config``
    (request times and delays are ignored: every order is tried). ``fairness``: False,
    True (the algorithm's own flavour), ``"timestamp"`` or ``"arrival"``.

    The search goes on past the first violation (a violating state is expanded too,
    unless a handler raised) until every kind checked has its counterexample, the space
    is exhausted, or ``more_states`` further states have been seen: each kind reported
    has a shortest schedule; a kind not met by then is not reported. ``engine``:
    ``"numpy"`` (a level at a time, the default) or ``"reference"`` (a state at a time);
    both give the same result."""
    if engine not in ("numpy", "reference"):
        raise ValueError(f"engine must be 'numpy' or 'reference', got {engine!r}")
    config = Config(n=3, requests=1) if config is None else config
    invariants = invariants_for(algorithm, fairness=fairness, deadlock=deadlock)
    found = _Found({i.kind for i in invariants})
    t0 = time.perf_counter()
    try:
        graph = StateGraph(algorithm, config, resolve_fairness(algorithm, fairness))
    except Exception as exc:  # on_start raised
        failure = getattr(exc, "course_failure", None) or f"{type(exc).__name__}: {exc}"
        return Exploration(algorithm, config, 0, 0, time.perf_counter() - t0, True,
                           violations=(Violation(Kind.ERROR, str(failure), (), "error"),))
    def on_step(state: Any, step: Step, child: Any, failure: Any, entries: Any,
                path: Callable[[], list[Step]]) -> None:
        if failure is not None:
            if not found.has(Kind.ERROR):
                schedule = path()
                found.add(NO_ERROR, str(HandlerFailure(
                    failure.pid, failure.handler, f"step {len(schedule)}: {step!r}",
                    failure.error)), schedule)
            return
        view = None  # safety and fairness can only break when somebody enters
        for inv in on_step_invs:
            if not found.has(inv.kind):
                view = view or graph.view(child, entries)
                if (why := inv.check_step(view)) is not None:
                    found.add(inv, why, path())

    def on_final(state: Any, path: Callable[[], list[Step]]) -> None:
        view = None
        for inv in on_final_invs:
            if not found.has(inv.kind):
                view = view or graph.view(state)
                if (why := inv.check_final(view)) is not None:
                    found.add(inv, why, path())

    on_step_invs, on_final_invs = (
        [i for i in invariants if type(i).check_step is not Invariant.check_step],
        [i for i in invariants if type(i).check_final is not Invariant.check_final])
    budget = Budget(max_states, more_states, lambda: bool(found.by_kind),
                    lambda: found.complete)
    search = bfs if engine == "reference" else vbfs
    states, transitions, exhausted = search(graph, on_step, on_final, budget)
    return Exploration(algorithm, config, states, transitions, time.perf_counter() - t0,
                       exhausted or bool(found.by_kind), violations=found.sorted())


@dataclass
class SeedSweep:
    """Result of :func:`check_seeds`: how many seeds ran, and the first failing one."""

    algorithm: str
    seeds_run: int
    failing_seed: int | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    run: Run | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.failing_seed is None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        if self.ok:
            return f"SeedSweep({self.algorithm}: {self.seeds_run} seeds, all checks hold)"
        bad = "; ".join(str(v) for v in self.verdicts if not v)
        return (f"SeedSweep({self.algorithm}: seed {self.failing_seed} fails after "
                f"{self.seeds_run} seeds: {bad})")


def check_seeds(algorithm: Algorithm, config: Config, seeds: Iterable[int], *,
                checks: Iterable[Callable[[Run], Verdict]] | None = None,
                fairness: bool | str = False) -> SeedSweep:
    """Simulate every seed and run the checks; stop at the first seed that fails. The
    checks are the invariants' run checks (safety, liveness and, with ``fairness``, the
    algorithm's fairness flavour, as :func:`explore`), or the callables given. A handler
    that raises fails its seed with an ``error`` verdict naming the node, the handler and
    the time (as :func:`explore` names the step); ``run`` is the run up to there."""
    if checks is None:
        checks = [i.check_run for i in invariants_for(algorithm, fairness=fairness)
                  if i.kind is not Kind.ERROR]
    checks = tuple(checks)
    name = getattr(algorithm, "__name__", repr(algorithm))
    count = 0
    for seed in seeds:
        count += 1
        run, failure = _simulate(algorithm, config, seed)
        if failure is not None:
            return SeedSweep(name, count, seed, [Verdict("error", (failure,))], run)
        assert run is not None  # _simulate returns a run whenever nothing failed
        verdicts = [c(run) for c in checks]
        if not all(verdicts):
            return SeedSweep(name, count, seed, verdicts, run)
    return SeedSweep(name, count)


def _simulate(algorithm: Algorithm, config: Config, seed: int) -> tuple[Run | None, str | None]:
    """``simulate``, but a handler that raises ends the run with ``run.error`` set."""
    try:
        k = _Timed(algorithm, config, seed, record=True)
    except Exception as exc:  # the algorithm's constructor
        return None, f"{getattr(algorithm, '__name__', algorithm)}() raised " \
                     f"{type(exc).__name__}: {exc}"
    try:
        quiescent = k.run()
    except Exception as exc:
        failure = str(getattr(exc, "course_failure", None) or f"{type(exc).__name__}: {exc}")
        return k.result(seed=seed, quiescent=False, lost=k.lost, error=failure), failure
    return k.result(seed=seed, quiescent=quiescent, lost=k.lost), None
