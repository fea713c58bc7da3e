"""The explorer's state graph, built from per-process transitions computed once each.

A global state is (one *local state* id per process, the messages in flight, the fairness
ghost). A local state is a node's canonical attributes (``course.sim._steps.node_key``)
plus its clock, CS status, requests left, crash flag, timers and request timestamp.

**Why caching a transition per local state is sound.** A step runs one handler of one
process p; the handler sees only p's own attributes, p's clock and the message (the
student API offers nothing else), and its effects are p's new local state, the
messages it sent and whether it entered the CS. So the effect is a function of (p's
local state, the step), computed once by running the handler on a scratch kernel and
reused in every global state where p is in that local state. This is the same
assumption as merging two global states with equal keys, which every stateful search
(and the old explorer) makes: a node whose behaviour depends on anything else (a global,
randomness, set or dict iteration order) is outside the model either way. Effects that
read other processes -- dropping a message to a crashed process, a crash emptying the
channels to it, the fairness ghost -- are applied at the global level, not cached.
No state is skipped: every reachable state is visited (this is not a reduction).

**Fingerprints.** Visited states are kept as 64-bit fingerprints (Python's hash of the
key, a tuple of small ints, deterministic across runs) with a parent index and step id
per state, so counterexamples replay. Two distinct states collide with probability
about n²/2^65 for n states (6·10^-8 at 1.5 M): a collision could hide a state.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from course.sim import Config, Step
from course.sim._kernel import IDLE, IN_CS, WAITING, Algorithm, HandlerFailure
from course.sim._steps import _ATOMS, _PLUMBING, Entry, StepKernel, _copy, handler_of, node_key

__all__ = ["StateGraph"]

_new = tuple.__new__


@dataclass(frozen=True)
class Local:
    """One process's local state (see the module docstring)."""

    node: dict[str, Any]
    clock: int
    status: int
    remaining: int
    crashed: bool
    nev: int
    timers: tuple[str, ...]
    req_ts: int


class _View:
    """What an invariant reads (``MachineState``) of a global state."""

    __slots__ = ("crashed", "entries", "remaining", "status")

    def __init__(self, locs: list[Local], entries: tuple[Entry, ...]) -> None:
        self.status = [lo.status for lo in locs]
        self.crashed = [lo.crashed for lo in locs]
        self.remaining = [lo.remaining for lo in locs]
        self.entries = entries


class StateGraph:
    """Breadth-first generation of the reachable states of ``algorithm`` (see module)."""

    def __init__(self, algorithm: Algorithm, config: Config, fairness: str | None) -> None:
        self.config = config
        self.fairness = fairness  # set before the first _intern
        self.k = k = StepKernel(algorithm, config)  # the scratch kernel; runs on_start
        self.n = n = k.n
        self.fifo = config.fifo
        self.may_crash = frozenset(k.may_crash)
        self.locals: list[Local] = []
        self.local_ids: dict[Any, int] = {}
        self.memo: dict[tuple[int, Any], Any] = {}
        self.msgs: list[tuple[Any, ...]] = []  # id -> (Message, tag)
        self.msg_ids: dict[Any, int] = {}
        self.steps: list[Step] = []
        self.step_ids: dict[Step, int] = {}
        lids = tuple(self._intern(p) for p in range(n))
        ghost: Any = None
        if fairness == "timestamp":
            ghost = None  # (latest entry (ts, pid)); request ts live in the local states
        elif fairness == "arrival":
            ghost = ((0,) * n,) * n, (None,) * n  # requests heard of, as of own request
        self.root = (lids, (), ghost)

    # ----- local states and their transitions ------------------------------------------
    def _intern(self, p: int) -> int:
        k = self.k
        d = dict(k.nodes[p].__dict__)
        timers = tuple(sorted(name for q, name in k.timers if q == p))
        crashed = k.crashed[p]
        key = (p, None if crashed else node_key(d, p), k.clock[p], k.status[p], k.remaining[p],
               crashed, k.nev[p] if k.crash_after else 0, timers,
               k.req_ts[p] if self.fairness else 0)  # ts matters to fairness only
        lid = self.local_ids.get(key)
        if lid is None:
            lid = self.local_ids[key] = len(self.locals)
            self.locals.append(Local(d, k.clock[p], k.status[p], k.remaining[p], crashed,
                                     k.nev[p], timers, k.req_ts[p]))
        return lid

    def _msg(self, m: Any, tag: Any) -> int:
        key = (m, tag)
        i = self.msg_ids.get(key)
        if i is None:
            i = self.msg_ids[key] = len(self.msgs)
            self.msgs.append(key)
        return i

    def _step(self, step: Step) -> int:
        i = self.step_ids.get(step)
        if i is None:
            i = self.step_ids[step] = len(self.steps)
            self.steps.append(step)
        return i

    def _run(self, p: int, lid: int, step: Step) -> Any:
        """Run ``step`` on p in local state ``lid``: (new lid, messages sent, entered,
        crashed now, failure text or None)."""
        k, lo = self.k, self.locals[lid]
        node = k.nodes[p]
        nd = node.__dict__
        nd.clear()
        nd.update({a: v if type(v) in _ATOMS or a in _PLUMBING else _copy(v)
                   for a, v in lo.node.items()})
        k._loaded[p] = None
        k.clock[p], k.status[p], k.remaining[p] = lo.clock, lo.status, lo.remaining
        k.crashed[:] = [False] * self.n
        k.crashed[p] = lo.crashed
        k.nev[p], k.req_ts[p] = lo.nev, lo.req_ts
        k.timers = [(p, t) for t in lo.timers]
        k.inflight = [step.message] if step.kind == "deliver" else []  # type: ignore[list-item]
        k.entries = []
        try:
            k.apply(step)
        except Exception as exc:
            return (lid, (), False, False,
                    HandlerFailure(p, handler_of(step), "", f"{type(exc).__name__}: {exc}"))
        sent = tuple(k.inflight)
        return (self._intern(p), sent, bool(k.entries), k.crashed[p] and not lo.crashed, None)

    # ----- the search ------------------------------------------------------------------
    def enabled(self, state: Any) -> list[tuple[int, int, Step]]:
        """(pid, pool index or -1, step) for every enabled step, in a fixed order."""
        lids, pool, _ = state
        locs = self.locals
        out = []
        for p in range(self.n):
            lo = locs[lids[p]]
            if lo.crashed:
                continue
            if lo.status == IDLE and lo.remaining:
                out.append((p, -1, _new(Step, ("request", p, None, None))))
            elif lo.status == IN_CS:
                out.append((p, -1, _new(Step, ("exit", p, None, None))))
        seen: set[Any] = set()
        msgs = self.msgs
        for i, e in enumerate(pool):
            m = msgs[e][0]
            key = (m[2], m[3]) if self.fifo else e
            if key not in seen:
                seen.add(key)
                out.append((m[3], i, _new(Step, ("deliver", m[3], m, None))))
        for p in range(self.n):
            lo = locs[lids[p]]
            if not lo.crashed:
                for t in dict.fromkeys(lo.timers):
                    out.append((p, -1, Step("timer", p, timer=t)))
        for p in range(self.n):
            if p in self.may_crash and not locs[lids[p]].crashed:
                out.append((p, -1, Step("crash", p)))
        return out

    def successors(self, state: Any) -> Iterator[tuple[Step, Any, Any, Any]]:
        """(step, child state or None, failure, entries) for every enabled step."""
        lids, pool, ghost = state
        locs, msgs, memo, fair = self.locals, self.msgs, self.memo, self.fairness
        for p, at, step in self.enabled(state):
            lid = lids[p]
            mkey = (lid, step if at < 0 else pool[at])
            r = memo.get(mkey)
            if r is None:
                r = memo[mkey] = self._run(p, lid, step)
            new_lid, sent, entered, crashed_now, failure = r
            if failure is not None:
                yield step, None, failure, ()
                continue
            new_lids = (*lids[:p], new_lid, *lids[p + 1:])
            rest = list(pool)
            tag: Any = None
            g = ghost
            if at >= 0:
                del rest[at]
            if fair == "arrival":
                seen_, pred = ghost
                mine = seen_[p]
                if at >= 0:
                    t = msgs[pool[at]][1]
                    mine = tuple(a if a > b else b for a, b in zip(mine, t, strict=True))
                if step.kind == "request":
                    mine = (*mine[:p], mine[p] + 1, *mine[p + 1:])
                    pred = (*pred[:p], mine, *pred[p + 1:])
                seen_ = (*seen_[:p], mine, *seen_[p + 1:])
                g = (seen_, pred)
                tag = mine
            for m in sent:
                if not locs[new_lids[m[3]]].crashed:
                    rest.append(self._msg(m, tag))
            if crashed_now or step.kind == "crash":
                rest = [e for e in rest if msgs[e][0][3] != p]
            entries: tuple[Entry, ...] = ()
            if entered:
                entries = (self._entry(p, new_lids, g),)
                if fair == "timestamp":
                    g = (locs[new_lid].req_ts, p)
            new_pool = tuple(sorted(rest, key=lambda e: msgs[e][0][2:4]) if self.fifo
                             else sorted(rest))
            yield step, (new_lids, new_pool, g), None, entries

    def _entry(self, p: int, lids: tuple[int, ...], ghost: Any) -> Entry:
        locs = self.locals
        ts = locs[lids[p]].req_ts
        waiting = []
        for q in range(self.n):
            lo = locs[lids[q]]
            if q != p and lo.status == WAITING and not lo.crashed:
                before = False
                if self.fairness == "arrival":
                    seen_, pred = ghost
                    before = pred[p] is not None and pred[p][q] >= seen_[q][q] > 0
                waiting.append((q, lo.req_ts, before))
        previous = ghost if self.fairness == "timestamp" else None
        return Entry(p, ts, previous, tuple(waiting))

    def view(self, state: Any, entries: tuple[Entry, ...] = ()) -> _View:
        return _View([self.locals[i] for i in state[0]], entries)


def bfs(graph: StateGraph, on_step: Callable[..., bool], on_final: Callable[..., None],
        stop: Callable[[int], bool]) -> tuple[int, int, bool]:
    """Breadth-first search; returns (states, transitions, exhausted). ``on_step(state,
    step, child, failure, entries, path)`` returns False to not keep the child."""
    seen = {hash(graph.root)}
    parents = array("q", [-1])
    step_of = array("l", [-1])
    frontier: deque[tuple[int, Any]] = deque([(0, graph.root)])
    transitions = 0

    def path(i: int) -> list[Step]:
        out = []
        while parents[i] >= 0:
            out.append(graph.steps[step_of[i]])
            i = parents[i]
        return out[::-1]

    while frontier:
        i, state = frontier.popleft()
        any_step = False
        for step, child, failure, entries in graph.successors(state):
            any_step = True
            transitions += 1
            if not on_step(state, step, child, failure, entries, lambda i=i, s=step: [*path(i), s]):
                continue
            fp = hash(child)
            if fp in seen:
                continue
            seen.add(fp)
            parents.append(i)
            step_of.append(graph._step(step))
            frontier.append((len(parents) - 1, child))
            if stop(len(parents)):
                return len(parents), transitions, False
        if not any_step:
            on_final(state, lambda i=i: path(i))
    return len(parents), transitions, True
