"""The explorer's state graph, built from per-process transitions computed once each.

A global state is (one *local state* id per process, the messages in flight, a fairness
ghost id). A local state is a node's canonical attributes (``course.sim._steps.node_key``)
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
channels to it, the fairness ghost -- are applied at the global level (:meth:`compose`),
not cached. No state is skipped: every reachable state is visited (no reduction).

**The two searches.** :func:`bfs` here walks states one at a time on Python tuples: the
reference. ``course.mutex._vsearch.vbfs`` walks a whole breadth-first level at once on
numpy arrays, 5-20x faster; both take their transitions from this graph (:meth:`result`,
:meth:`compose`, :meth:`local_steps`) and visit the same states in the same order, which
``tests/test_mutex_search.py`` checks state by state.

**Fingerprints.** Visited states are kept as 64-bit fingerprints with a parent index and
step code per state, so counterexamples replay. Two distinct states collide with
probability about n²/2^65 for n states (6·10^-8 at 1.5 M): a collision could hide a state.
"""

from __future__ import annotations

import functools
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from course.sim import Config, Step
from course.sim._kernel import IDLE, IN_CS, WAITING, Algorithm, HandlerFailure
from course.sim._steps import _ATOMS, _PLUMBING, Entry, StepKernel, _copy, handler_of, node_key

__all__ = ["Budget", "StateGraph", "bfs"]

_new = tuple.__new__


@dataclass(frozen=True)
class Local:
    """One process's local state (see the module docstring)."""

    pid: int
    node: dict[str, Any]
    clock: int
    status: int
    remaining: int
    crashed: bool
    nev: int
    timers: tuple[str, ...]
    req_ts: int


class Result(NamedTuple):
    """What one step does to its process: the new local state, the messages sent, whether
    it entered the CS or crashed, or the handler's failure."""

    lid: int
    sent: tuple[Any, ...]
    entered: bool
    crashed_now: bool
    failure: HandlerFailure | None


class LocalStep(NamedTuple):
    """A step of one process that needs no message. ``group`` orders the steps of a state:
    0 request or exit (by pid), then every delivery (by pool position), 1 timers (by pid,
    then name), 2 crashes (by pid); ``sub`` is the place within the group."""

    group: int
    sub: int
    code: int


class _View:
    """What an invariant reads (``MachineState``) of a global state."""

    __slots__ = ("crashed", "entries", "remaining", "status")

    def __init__(self, locs: list[Local], entries: tuple[Entry, ...]) -> None:
        self.status = [lo.status for lo in locs]
        self.crashed = [lo.crashed for lo in locs]
        self.remaining = [lo.remaining for lo in locs]
        self.entries = entries


class StateGraph:
    """The reachable states of ``algorithm`` under ``config`` (see the module docstring).

    A step is named by a *code*: ``2 * message id`` delivers that message, ``2 * i + 1``
    takes local step ``lsteps[i]``. A state is ``(lids, pool, gid)``: the local state id of
    each process, the ids of the messages in flight (in :meth:`order`), and the ghost
    id."""

    def __init__(self, algorithm: Algorithm, config: Config, fairness: str | None) -> None:
        self.config = config
        self.fairness = fairness  # set before the first _intern
        self.k = k = StepKernel(algorithm, config)  # the scratch kernel; runs on_start
        self.n = n = k.n
        self.fifo = config.fifo
        self.may_crash = frozenset(k.may_crash)
        self.can_crash = bool(config.crashes)
        self.locals: list[Local] = []
        self.local_ids: dict[Any, int] = {}
        self._lsteps_of: list[tuple[LocalStep, ...] | None] = []
        self.memo: dict[tuple[int, int], int] = {}  # (lid, code) -> result id
        self.results: list[Result] = []
        self.msgs: list[tuple[Any, ...]] = []  # id -> (Message, tag)
        self.msg_ids: dict[Any, int] = {}
        self.lsteps: list[Step] = []
        self._lstep_ids: dict[Step, int] = {}
        self.ghosts: list[Any] = []
        self._ghost_ids: dict[Any, int] = {}
        self._composed: dict[tuple[int, int, int], tuple[int, int, tuple[int, ...]]] = {}
        self.max_timers = 0
        start = list(k.inflight)  # sent by on_start
        lids = tuple(self._intern(p) for p in range(n))
        ghost: Any = None  # "timestamp": the latest entry's (ts, pid); request ts are local
        if fairness == "arrival":
            ghost = ((0,) * n,) * n, (None,) * n  # requests heard of, as of own request
        tag = (0,) * n if fairness == "arrival" else None
        self.root = (lids, self.sort_pool([self._msg(m, tag) for m in start]),
                     self._ghost(ghost))

    # ----- interning -------------------------------------------------------------------
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
            self.locals.append(Local(p, d, k.clock[p], k.status[p], k.remaining[p], crashed,
                                     k.nev[p], timers, k.req_ts[p]))
            self._lsteps_of.append(None)
        return lid

    def _msg(self, m: Any, tag: Any) -> int:
        key = (m, tag)
        i = self.msg_ids.get(key)
        if i is None:
            i = self.msg_ids[key] = len(self.msgs)
            self.msgs.append(key)
        return i

    def _ghost(self, g: Any) -> int:
        i = self._ghost_ids.get(g)
        if i is None:
            i = self._ghost_ids[g] = len(self.ghosts)
            self.ghosts.append(g)
        return i

    def _lstep(self, step: Step) -> int:
        i = self._lstep_ids.get(step)
        if i is None:
            i = self._lstep_ids[step] = len(self.lsteps)
            self.lsteps.append(step)
        return 2 * i + 1

    def step(self, code: int) -> Step:
        """The step a code names."""
        if code & 1:
            return self.lsteps[code >> 1]
        m = self.msgs[code >> 1][0]
        return _new(Step, ("deliver", m[3], m, None))

    def dest(self, mid: int) -> int:
        return int(self.msgs[mid][0][3])

    def chan(self, mid: int) -> int:
        """The channel of a message as one int, in (sender, dest) order."""
        m = self.msgs[mid][0]
        return int(m[2]) * self.n + int(m[3])

    def order(self, mid: int) -> int:
        """Where a message goes in a state's pool: by channel, then timestamp. Within one
        execution no two messages share a channel and timestamp (every send ticks the
        sender's clock; a broadcast's copies go to different processes), so this is a
        canonical order of a pool, the same whatever order messages were first seen in;
        on a FIFO channel it is the age order."""
        ts = int(self.msgs[mid][0][1])
        if not 0 <= ts < 2**32:
            raise ValueError(f"Timestamp out of range in {self.msgs[mid][0]!r}")
        return (self.chan(mid) << 32) | ts

    def sort_pool(self, ids: list[int]) -> tuple[int, ...]:
        """Messages in flight in canonical order (:meth:`order`)."""
        return tuple(sorted(ids, key=self.order))

    # ----- transitions -----------------------------------------------------------------
    def local_steps(self, lid: int) -> tuple[LocalStep, ...]:
        """The steps a process can take in local state ``lid`` without a message."""
        out = self._lsteps_of[lid]
        if out is None:
            lo = self.locals[lid]
            p = lo.pid
            steps: list[LocalStep] = []
            if not lo.crashed:
                if lo.status == IDLE and lo.remaining:
                    steps.append(LocalStep(0, p, self._lstep(Step("request", p))))
                elif lo.status == IN_CS:
                    steps.append(LocalStep(0, p, self._lstep(Step("exit", p))))
                timers = list(dict.fromkeys(lo.timers))
                self.max_timers = max(self.max_timers, len(timers))
                steps += [LocalStep(1, i, self._lstep(Step("timer", p, timer=t)))
                          for i, t in enumerate(timers)]
                if p in self.may_crash:
                    steps.append(LocalStep(2, p, self._lstep(Step("crash", p))))
            out = self._lsteps_of[lid] = tuple(steps)
        return out

    def result(self, lid: int, code: int) -> int:
        """The id of what step ``code`` does in local state ``lid`` (run once, then cached)."""
        key = (lid, code)
        r = self.memo.get(key)
        if r is None:
            r = self.memo[key] = len(self.results)
            self.results.append(self._run(self.locals[lid].pid, lid, self.step(code)))
        return r

    def _run(self, p: int, lid: int, step: Step) -> Result:
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
            return Result(lid, (), False, False,
                          HandlerFailure(p, handler_of(step), "", f"{type(exc).__name__}: {exc}"))
        return Result(self._intern(p), tuple(k.inflight), bool(k.entries),
                      (k.crashed[p] and not lo.crashed) or step.kind == "crash", None)

    def compose(self, gid: int, rid: int, code: int, p: int) -> tuple[int, int, tuple[int, ...]]:
        """The global effects of result ``rid`` of step ``code`` on p in ghost ``gid``: (the
        ghost an entry is judged in, the ghost after the step, the ids of the messages
        sent). Messages to crashed processes are dropped by the caller."""
        fair = self.fairness
        key = (gid, rid, code if fair == "arrival" else 0)
        out = self._composed.get(key)
        if out is None:
            r = self.results[rid]
            ghost, tag = self.ghosts[gid], None
            if fair == "arrival":
                seen_, pred = ghost
                mine = seen_[p]
                if not code & 1:
                    t = self.msgs[code >> 1][1]
                    mine = tuple(a if a > b else b for a, b in zip(mine, t, strict=True))
                elif self.lsteps[code >> 1].kind == "request":
                    mine = (*mine[:p], mine[p] + 1, *mine[p + 1:])
                    pred = (*pred[:p], mine, *pred[p + 1:])
                ghost = ((*seen_[:p], mine, *seen_[p + 1:]), pred)
                tag = mine
            mid = self._ghost(ghost)
            after = (self._ghost((self.locals[r.lid].req_ts, p))
                     if r.entered and fair == "timestamp" else mid)
            out = self._composed[key] = (mid, after, tuple(self._msg(m, tag) for m in r.sent))
        return out

    def entry(self, p: int, lids: tuple[int, ...], gid: int) -> Entry:
        """The CS entry of p into global state ``lids`` (ghost: the one of :meth:`compose`)."""
        locs, ghost = self.locals, self.ghosts[gid]
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
        return Entry(p, locs[lids[p]].req_ts, previous, tuple(waiting))

    def view(self, state: Any, entries: tuple[Entry, ...] = ()) -> _View:
        return _View([self.locals[i] for i in state[0]], entries)

    # ----- the reference successor function ----------------------------------------------
    def successors(self, state: Any) -> Iterator[tuple[int, Any, Any, tuple[Entry, ...]]]:
        """(code, child state or None, failure, entries) for every enabled step, in the
        order of :class:`LocalStep`'s groups."""
        lids, pool, gid = state
        msgs, locs = self.msgs, self.locals
        moves: list[tuple[int, int, int]] = []  # (pid, pool index or -1, code)
        later: list[tuple[int, int, int, int]] = []
        for p in range(self.n):
            for ls in self.local_steps(lids[p]):
                if ls.group == 0:
                    moves.append((p, -1, ls.code))
                else:
                    later.append((ls.group, ls.sub, p, ls.code))
        seen: set[int] = set()
        for i, e in enumerate(pool):
            key = self.chan(e) if self.fifo else e
            if key not in seen:
                seen.add(key)
                moves.append((self.dest(e), i, 2 * e))
        later.sort(key=lambda t: (t[0], t[2] if t[0] == 1 else 0, t[1]))
        moves += [(p, -1, code) for _, _, p, code in later]
        for p, at, code in moves:
            rid = self.result(lids[p], code)
            r = self.results[rid]
            if r.failure is not None:
                yield code, None, r.failure, ()
                continue
            mid, after, sent = self.compose(gid, rid, code, p)
            new_lids = (*lids[:p], r.lid, *lids[p + 1:])
            rest = list(pool)
            if at >= 0:
                del rest[at]
            rest += sent
            if self.can_crash:  # a crash empties the channels to it; sends to it are lost
                rest = [e for e in rest if not locs[new_lids[msgs[e][0][3]]].crashed]
            entries = (self.entry(p, new_lids, mid),) if r.entered else ()
            yield code, (new_lids, self.sort_pool(rest), after), None, entries


class Budget:
    """When a search stops: at ``max_states`` states, or, once ``found()`` says something
    was found, ``more_states`` states later, or as soon as ``complete()``."""

    def __init__(self, max_states: int, more_states: int, found: Callable[[], bool],
                 complete: Callable[[], bool]) -> None:
        self.limit = max_states
        self.more = more_states
        self.found = found
        self.complete = complete
        self.extended = False

    def stop(self, states: int) -> bool:
        """Called after each new state (``states`` seen so far)."""
        if not self.extended and self.found():
            self.extended = True
            self.limit = min(self.limit, states + self.more)
        return states >= self.limit or self.complete()

    def __repr__(self) -> str:
        return f"Budget(limit={self.limit:,}, more={self.more:,})"


OnStep = Callable[[Any, Step, Any, Any, tuple[Entry, ...], Callable[[], list[Step]]], None]


def _extend(path: Callable[[int], list[Step]], i: int, step: Step) -> list[Step]:
    return [*path(i), step]


def bfs(graph: StateGraph, on_step: OnStep, on_final: Callable[..., None],
        budget: Budget) -> tuple[int, int, bool]:
    """Breadth-first search; returns (states, transitions, exhausted). ``on_step(state,
    step, child, failure, entries, path)`` runs on every transition that failed (its child
    is None and not kept) or entered the CS; ``on_final(state, path)`` on every state
    without a step; ``budget.stop`` after every new state."""
    seen = {hash(graph.root)}
    parents = array("q", [-1])
    code_of = array("q", [-1])
    frontier: deque[tuple[int, Any]] = deque([(0, graph.root)])
    transitions = 0

    def path(i: int) -> list[Step]:
        out = []
        while parents[i] >= 0:
            out.append(graph.step(code_of[i]))
            i = parents[i]
        return out[::-1]

    while frontier:
        i, state = frontier.popleft()
        any_step = False
        for code, child, failure, entries in graph.successors(state):
            any_step = True
            transitions += 1
            if failure is not None or entries:
                on_step(state, graph.step(code), child, failure, entries,
                        functools.partial(_extend, path, i, graph.step(code)))
                if failure is not None:
                    continue
            fp = hash(child)
            if fp in seen:
                continue
            seen.add(fp)
            parents.append(i)
            code_of.append(code)
            frontier.append((len(parents) - 1, child))
            if budget.stop(len(parents)):
                return len(parents), transitions, False
        if not any_step:
            on_final(state, lambda i=i: path(i))
    return len(parents), transitions, True
