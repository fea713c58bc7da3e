"""Schedule exploration: many random seeds, or every delivery order of a small system.

:func:`explore` searches the steps of ``course.sim.StepKernel`` breadth first from the
start, hashing each state (every process's attributes + clocks, CS states, requests left,
messages in flight, timers). In every new state it checks

* safety – at most one live process in the CS;
* errors – a handler raised (e.g. ``enter_cs()`` while not waiting);
* fairness (``fairness=True``) – entries in (request timestamp, pid) order;
* deadlock – no step is possible but a live process still waits or has requests left.

It reports "space exhausted, K states" or the first violation. Breadth first means the
schedule found is a shortest one: a minimal counterexample, replayable with
:meth:`Exploration.replay` and drawable as a space-time diagram.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from course.mutex._checks import Verdict, check_liveness, check_safety
from course.sim import Config, Run, Step, StepKernel, replay, simulate
from course.sim._kernel import Algorithm

__all__ = ["Exploration", "SeedSweep", "check_seeds", "explore"]


@dataclass
class Exploration:
    """Result of :func:`explore`. Truthy when the whole space was searched without a
    violation."""

    algorithm: Algorithm = field(repr=False)
    config: Config
    states: int
    transitions: int
    seconds: float
    exhausted: bool
    violation: str | None = None
    kind: str | None = None  # "safety" | "deadlock" | "fairness" | "error"
    schedule: tuple[Step, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exhausted and self.violation is None

    def __bool__(self) -> bool:
        return self.ok

    def replay(self) -> Run:
        """Run the counterexample schedule again, recording its trace."""
        return replay(self.algorithm, self.config, self.schedule)

    def __str__(self) -> str:
        return self.summary(timing=True)

    def summary(self, *, timing: bool = False) -> str:
        """The verdict, state counts and counterexample; wall-clock seconds only with
        ``timing=True`` (so the rest can be compared across runs, e.g. by nbval)."""
        name = getattr(self.algorithm, "__name__", repr(self.algorithm))
        head = (f"{name}, {self.config!r}: ")
        stats = f"{self.states:,} states, {self.transitions:,} transitions"
        if timing:
            stats += f", {self.seconds:.2f} s"
        if self.violation is not None:
            steps = "\n".join(f"  {i + 1:2d}. {s!r}" for i, s in enumerate(self.schedule))
            return (f"{head}{self.kind} violation after {len(self.schedule)} steps "
                    f"({stats}): {self.violation}\n{steps}")
        if not self.exhausted:
            return f"{head}stopped at the state limit, no violation so far ({stats})"
        return f"{head}space exhausted, {stats}, no violation"

    def __repr__(self) -> str:
        return f"Exploration({str(self).splitlines()[0]})"


def explore(algorithm: Algorithm, config: Config | None = None, *, fairness: bool = False,
            deadlock: bool = True, max_states: int = 2_000_000) -> Exploration:
    """Breadth-first search over every schedule of ``algorithm`` under ``config``
    (request times and delays are ignored: every order is tried)."""
    config = Config(n=3, requests=1) if config is None else config
    t0 = time.perf_counter()
    k = StepKernel(algorithm, config, fairness=fairness)
    root = k.save()
    parent: dict[tuple, tuple[tuple, Step] | None] = {root.key: None}
    frontier = deque([root])
    transitions = 0

    def path(key: tuple) -> list[Step]:
        steps = []
        while (link := parent[key]) is not None:
            key, step = link
            steps.append(step)
        return steps[::-1]

    def found(kind: str, why: str, schedule: list[Step]) -> Exploration:
        return Exploration(algorithm, config, len(parent), transitions,
                           time.perf_counter() - t0, True, why, kind, tuple(schedule))

    while frontier:
        snap = frontier.popleft()
        k.load(snap)
        steps = k.enabled()
        if not steps:
            stuck = k.stuck()
            if deadlock and stuck:
                who = ", ".join(f"P{p}" for p in stuck)
                return found("deadlock", f"no step possible but {who} still "
                             f"{'waits' if len(stuck) == 1 else 'wait'}", path(snap.key))
            continue
        for step in steps:
            k.load(snap, step.pid)
            transitions += 1
            try:
                k.apply(step)
            except Exception as exc:
                return found("error", f"{type(exc).__name__}: {exc}",
                             [*path(snap.key), step])
            inside = k.in_cs()
            problem = k.problem
            if len(inside) > 1 or problem:
                kind = "safety" if len(inside) > 1 else "fairness"
                why = (f"{' and '.join(f'P{p}' for p in inside)} in the CS together"
                       if kind == "safety" else problem)
                return found(kind, why, [*path(snap.key), step])  # type: ignore[arg-type]
            child = k.save(snap, step.pid)
            if child.key in parent:
                continue
            parent[child.key] = (snap.key, step)
            if len(parent) >= max_states:
                return Exploration(algorithm, config, len(parent), transitions,
                                   time.perf_counter() - t0, False)
            frontier.append(child)
    return Exploration(algorithm, config, len(parent), transitions,
                       time.perf_counter() - t0, True)


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
                checks: Iterable[Callable[[Run], Verdict]] = (check_safety, check_liveness),
                ) -> SeedSweep:
    """Simulate every seed and run the checks; stop at the first seed that fails."""
    checks = tuple(checks)
    name = getattr(algorithm, "__name__", repr(algorithm))
    count = 0
    for seed in seeds:
        count += 1
        run = simulate(algorithm, config, seed)
        verdicts = [c(run) for c in checks]
        if not all(verdicts):
            return SeedSweep(name, count, seed, verdicts, run)
    return SeedSweep(name, count)
