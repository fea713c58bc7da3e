"""Breadth-first search a level at a time, on numpy arrays.

The same search as the reference :func:`course.mutex._search.bfs` -- the same states in
the same order, the same transitions counted, the same stop, the same counterexamples --
but the frontier is a block of rows ``[lids..., gid, pool...]`` (int32; the pool's unused
tail is ``PAD``) and a chunk of parents is expanded with whole-array operations. Python
runs only where the graph learns something new: a (local state, step) pair never seen
(the handler runs once, :meth:`StateGraph.result`), a (ghost, result) pair never seen
(:meth:`StateGraph.compose`), and the callbacks.

**Order.** Children are generated per parent in the graph's step order (local steps of
group 0 by pid, deliveries by pool position, timers, crashes); a new state's number is its
first appearance in that order, as in the reference's FIFO queue.

**Callbacks once per view.** An invariant reads only a ``MachineState``: each process's
CS status, crash flag, requests left and request timestamp, plus the entry (who, and the
fairness ghost). ``on_step`` and ``on_final`` judge that view and only record what they
have not found yet, so calling them again on an equal view cannot change the result.
This search calls ``on_step`` on the first failure of each (local state, step) pair, on
the first entry of each distinct view, and ``on_final`` on the first step-less state of
each distinct view, in the reference's order: the first (shortest) counterexample of each
kind is the same one the reference records.

**Fingerprints** are 64-bit (a splitmix64 chain over the row, ignoring the pool's
padding); see ``_search`` for the collision probability. Visited fingerprints are kept
in a few sorted arrays, merged as they grow (16 bytes per state with the parent links).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from course.mutex._search import Budget, OnStep, StateGraph
from course.sim import Step

__all__ = ["vbfs"]

PAD = np.int32(2**31 - 1)
CHUNK = 1 << 15  # parents expanded at once
LOW = 0xFFFFFFFF
I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _mix(h: U64, col: NDArray[Any]) -> U64:
    z = h + col.astype(np.uint64) * _GOLD + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def fingerprints(rows: I32, n: int) -> U64:
    """One 64-bit fingerprint per row; trailing ``PAD`` columns do not count."""
    h = np.zeros(len(rows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(n + 1):
            h = _mix(h, rows[:, c])
        for c in range(n + 1, rows.shape[1]):
            col = rows[:, c]
            h = np.where(col != PAD, _mix(h, col), h)
    return h


class _Visited:
    """A set of fingerprints: sorted arrays, the newest small, merged as they grow."""

    def __init__(self, first: U64) -> None:
        self.parts: list[U64] = [np.sort(first)]

    def contains(self, fps: U64) -> NDArray[np.bool_]:
        hit = np.zeros(len(fps), dtype=bool)
        for part in self.parts:
            if len(part) == 0:
                continue
            i = np.minimum(np.searchsorted(part, fps), len(part) - 1)
            hit |= part[i] == fps
        return hit

    def add(self, fps: U64) -> None:
        """Add sorted fingerprints, none of them seen yet."""
        if len(fps) == 0:
            return
        self.parts.append(fps)
        while len(self.parts) > 1 and len(self.parts[-2]) <= 2 * len(self.parts[-1]):
            b, a = self.parts.pop(), self.parts.pop()
            self.parts.append(np.sort(np.concatenate([a, b]), kind="stable"))  # a merge

    def __repr__(self) -> str:
        return f"_Visited({sum(len(p) for p in self.parts):,} in {len(self.parts)} parts)"


class _Grow:
    """A numpy array that grows by appending (amortised doubling)."""

    def __init__(self, dtype: Any) -> None:
        self.buf: NDArray[Any] = np.zeros(64, dtype=dtype)
        self.size = 0

    def extend(self, values: Any) -> None:
        end = self.size + len(values)
        if end > len(self.buf):
            grown = np.zeros(max(end, 2 * len(self.buf)), dtype=self.buf.dtype)
            grown[:self.size] = self.buf[:self.size]
            self.buf = grown
        self.buf[self.size:end] = values
        self.size = end

    @property
    def a(self) -> NDArray[Any]:
        return self.buf[:max(self.size, 1)]

    def __repr__(self) -> str:
        return f"_Grow({self.buf.dtype}, {self.size})"


class _Cache:
    """int64 key -> int64 value in sorted arrays; a miss is computed by ``miss(key)``."""

    def __init__(self, miss: Callable[[int], int]) -> None:
        self.miss = miss
        self.keys: I64 = np.zeros(0, dtype=np.int64)
        self.vals: I64 = np.zeros(0, dtype=np.int64)

    def __call__(self, keys: I64) -> I64:
        u, inv = np.unique(keys, return_inverse=True)
        out = np.empty(len(u), dtype=np.int64)
        if len(self.keys):
            i = np.minimum(np.searchsorted(self.keys, u), len(self.keys) - 1)
            hit = self.keys[i] == u
            out[hit] = self.vals[i[hit]]
        else:
            hit = np.zeros(len(u), dtype=bool)
        if not hit.all():
            new_k = u[~hit]
            new_v = np.array([self.miss(k) for k in new_k.tolist()], dtype=np.int64)
            out[~hit] = new_v
            order = np.argsort(np.concatenate([self.keys, new_k]), kind="stable")
            self.keys = np.concatenate([self.keys, new_k])[order]
            self.vals = np.concatenate([self.vals, new_v])[order]
        return out[inv.reshape(-1)]

    def __repr__(self) -> str:
        return f"_Cache({len(self.keys):,} keys)"


class _Tables:
    """Numpy copies of the graph's growing tables, extended with what is new: per
    message its dest and order key, per result, per local state its local steps and the
    id of what an invariant reads of it, per composition its effects."""

    def __init__(self, graph: StateGraph) -> None:
        self.g = graph
        self.nm = self.nr = self.nl = 0
        self.dest, self.key, self.order = _Grow(np.int32), _Grow(np.int64), _Grow(np.int64)
        self.r_lid, self.r_entered, self.r_failed = _Grow(np.int32), _Grow(bool), _Grow(bool)
        self.crashed, self.sid = _Grow(bool), _Grow(np.int64)
        self.sids: dict[tuple[int, bool, int, int], int] = {}
        self.ls_count, self.ls_start = _Grow(np.int64), _Grow(np.int64)
        self.ls_group, self.ls_sub, self.ls_code = _Grow(np.int64), _Grow(np.int64), _Grow(np.int64)
        self.c_mid, self.c_after = _Grow(np.int64), _Grow(np.int64)
        self.c_len, self.c_start, self.c_sent = _Grow(np.int64), _Grow(np.int64), _Grow(np.int32)
        self.result = _Cache(lambda k: graph.result(k >> 32, k & LOW))
        self.compose = _Cache(lambda k: self._compose(k >> 32, k & LOW, 0))
        self.compose3: dict[tuple[int, int, int], int] = {}  # arrival: the code matters

    def _compose(self, gid: int, rid: int, code: int) -> int:
        g = self.g
        mid, after, sent = g.compose(gid, rid, code, g.locals[g.results[rid].lid].pid)
        self.c_mid.extend([mid])
        self.c_after.extend([after])
        self.c_start.extend([self.c_sent.size])
        self.c_len.extend([len(sent)])
        self.c_sent.extend(list(sent))
        return self.c_mid.size - 1

    def refresh(self) -> None:
        g = self.g
        if len(g.msgs) > self.nm:
            new = range(self.nm, len(g.msgs))
            self.dest.extend([g.dest(i) for i in new])
            self.key.extend([g.chan(i) if g.fifo else i for i in new])
            self.order.extend([g.order(i) for i in new])
            self.nm = len(g.msgs)
        if len(g.results) > self.nr:
            res = g.results[self.nr:]
            self.r_lid.extend([r.lid for r in res])
            self.r_entered.extend([r.entered for r in res])
            self.r_failed.extend([r.failure is not None for r in res])
            self.nr = len(g.results)
        if len(g.locals) > self.nl:
            locs = g.locals[self.nl:]
            self.crashed.extend([lo.crashed for lo in locs])
            self.sid.extend([self.sids.setdefault((lo.status, lo.crashed, lo.remaining,
                                                   lo.req_ts), len(self.sids)) for lo in locs])
            for lid in range(self.nl, len(g.locals)):
                steps = g.local_steps(lid)
                self.ls_start.extend([self.ls_group.size])
                self.ls_count.extend([len(steps)])
                self.ls_group.extend([ls.group for ls in steps])
                self.ls_sub.extend([ls.sub for ls in steps])
                self.ls_code.extend([ls.code for ls in steps])
            self.nl = len(g.locals)

    def __repr__(self) -> str:
        return f"_Tables({self.nm} messages, {self.nr} results, {self.nl} local states)"


def _state(row: I32, n: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """A row as the reference's state tuple."""
    vals = row.tolist()
    return tuple(vals[:n]), tuple(v for v in vals[n + 1:] if v != PAD), vals[n]


class _Count:
    """The states seen, counted over a chunk's new children in spans, with the budget
    checked as the reference checks it after each one."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.states = 1
        self.new_pos: I64 = np.zeros(0, dtype=np.int64)
        self.done = 0

    def start(self, new_pos: I64) -> None:
        """A chunk whose new children are the candidates at ``new_pos`` (ascending)."""
        self.new_pos, self.done = new_pos, 0

    def span(self, upto: int | None) -> int | None:
        """Count the new children before candidate ``upto`` (None: all of them); the
        index (in the chunk's new children) of the one the budget stops at, if any."""
        k = len(self.new_pos) if upto is None else int(np.searchsorted(self.new_pos, upto))
        if k <= self.done:
            return None
        if self.budget.stop(self.states + 1):
            return self.done
        m = self.budget.limit - self.states  # stop(states + m) is the next True
        if m <= k - self.done:
            return self.done + m - 1
        self.states += k - self.done
        self.done = k
        return None

    def __repr__(self) -> str:
        return f"_Count(states={self.states:,}, {self.budget!r})"


class _Seen:
    """Views (and failing pairs) already passed to a callback."""

    def __init__(self) -> None:
        self.entries: set[tuple[int, ...]] = set()
        self.finals: set[tuple[int, ...]] = set()
        self.failures: set[int] = set()

    @staticmethod
    def first(keys: I64, pos: I64, done: set[Any]) -> list[int]:
        """The positions of the first occurrence of each key (rows) not in ``done``."""
        if not len(pos):
            return []
        u, first = np.unique(keys, axis=0, return_index=True)
        out = []
        for k, i in zip(map(tuple, u.tolist()) if u.ndim > 1 else u.tolist(), first.tolist(),
                        strict=True):
            if k not in done:
                done.add(k)
                out.append(int(pos[i]))
        return out

    def __repr__(self) -> str:
        return f"_Seen({len(self.entries)} entry views, {len(self.finals)} final views)"


def vbfs(graph: StateGraph, on_step: OnStep, on_final: Callable[..., None],
         budget: Budget) -> tuple[int, int, bool]:
    """The reference :func:`~course.mutex._search.bfs`, a level at a time (see module)."""
    n = graph.n
    lids0, pool0, gid0 = graph.root
    root = np.array([[*lids0, gid0, *pool0]], dtype=np.int32)
    visited = _Visited(fingerprints(root, n))
    parents: list[I32] = [np.array([-1], dtype=np.int32)]
    codes: list[I32] = [np.array([-1], dtype=np.int32)]
    joined: list[tuple[I32, I32]] = []
    tables, seen = _Tables(graph), _Seen()
    count, transitions = _Count(budget), 0

    def path(i: int) -> list[Step]:
        if not joined or len(joined[0][0]) <= i:  # parents recorded since: join again
            joined[:] = [(np.concatenate(parents), np.concatenate(codes))]
        par, cod = joined[0]
        out = []
        while par[i] >= 0:
            out.append(graph.step(int(cod[i])))
            i = int(par[i])
        return out[::-1]

    level, base = [root], 0
    while level:
        nxt: list[I32] = []
        first_of_next = count.states
        for block in level:
            for s in range(0, len(block), CHUNK):
                x = _Chunk(graph, tables, block[s:s + CHUNK], base)
                base += len(x.rows)
                x.dedup(visited)
                count.start(x.ok[x.new])
                stop_at: int | None = None
                for pos, kind, ref in x.events(seen):
                    if (stop_at := count.span(pos)) is not None:
                        break
                    if kind == 0:  # a parent without a step
                        on_final(_state(x.rows[ref], n), lambda i=x.base + ref: path(i))
                    else:
                        x.report(ref, on_step, path)
                if stop_at is None:
                    stop_at = count.span(None)
                if stop_at is not None:
                    kept = x.new[:stop_at + 1]
                    parents.append(x.parents[kept])
                    codes.append(x.codes[kept])
                    return (count.states + stop_at + 1 - count.done,
                            transitions + int(count.new_pos[stop_at]) + 1, False)
                transitions += x.size
                parents.append(x.parents[x.new])
                codes.append(x.codes[x.new])
                if len(x.new):
                    nxt.append(x.children[x.new])
        level, base = nxt, first_of_next
    return count.states, transitions, True


class _Chunk:
    """One chunk of parents expanded: every candidate step in the reference's order
    (``row``, ``pid``, ``code``), the children of those that did not fail (child i is
    candidate ``ok[i]``), and which children are new (``new``, after :meth:`dedup`)."""

    def __init__(self, graph: StateGraph, t: _Tables, rows: I32, base: int) -> None:
        self.g, self.t, self.rows, self.base = graph, t, rows, base
        self.n = n = graph.n
        lids, pool = rows[:, :n], rows[:, n + 1:]
        t.refresh()
        row, pid, code, slot = self._candidates(lids, pool)
        self.size = len(row)
        self.row, self.pid, self.code = row, pid, code
        # what each step does to its process (a handler runs for pairs never seen)
        rid = t.result((lids[row, pid].astype(np.int64) << 32) | code)
        t.refresh()
        self.rid, self.failed = rid, t.r_failed.a[rid]
        self.ok = ok = np.nonzero(~self.failed)[0]
        okr, okp = rid[ok], pid[ok]
        # its global effects, per (ghost, result[, code])
        gid = rows[row[ok], n].astype(np.int64)
        if graph.fairness == "arrival":
            trip = np.stack([gid, okr, code[ok]], axis=1)
            comp = np.array([t.compose3.get(k) if k in t.compose3 else
                             t.compose3.setdefault(k, t._compose(*k))
                             for k in map(tuple, trip.tolist())], dtype=np.int64)
        else:
            comp = t.compose((gid << 32) | okr)
        self.comp = comp
        t.refresh()  # new messages
        # the children
        k = len(ok)
        clids = lids[row[ok]]
        clids[np.arange(k), okp] = t.r_lid.a[okr]
        width = pool.shape[1]
        ext = np.concatenate([pool[row[ok]], np.full((k, 1), PAD, dtype=np.int32)], axis=1)
        rest = ext[np.arange(width + 1)[None, :] != slot[ok][:, None]].reshape(k, width)
        slen = t.c_len.a[comp]
        smax = int(slen.max()) if k else 0
        if smax:
            sent = np.full((k, smax), PAD, dtype=np.int32)
            rr = np.repeat(np.arange(k), slen)
            cc = np.arange(int(slen.sum())) - np.repeat(np.cumsum(slen) - slen, slen)
            sent[rr, cc] = t.c_sent.a[np.repeat(t.c_start.a[comp], slen) + cc]
            q = np.concatenate([rest, sent], axis=1)
        else:
            q = rest
        valid = q != PAD
        safe = np.where(valid, q, 0)
        if graph.can_crash:  # messages to a crashed process are dropped
            dead = valid & t.crashed.a[clids[np.arange(k)[:, None], t.dest.a[safe]]]
            q = np.where(dead, PAD, q)
            valid &= ~dead
        ck = np.where(valid, t.order.a[safe], np.iinfo(np.int64).max)  # by channel, then ts
        q = np.take_along_axis(q, np.argsort(ck, axis=1), axis=1)
        w = int(valid.sum(axis=1).max()) if k else 0
        self.children = np.concatenate([clids, t.c_after.a[comp][:, None], q[:, :w]], axis=1,
                                       dtype=np.int32)
        self.parents = (base + row[ok]).astype(np.int32)
        self.codes = code[ok].astype(np.int32)
        self.new = np.zeros(0, dtype=np.int64)

    def _candidates(self, lids: I32, pool: I32) -> tuple[I64, I64, I64, I64]:
        """Every enabled step of every row: (row, pid, code, pool slot or width), sorted
        by row, then the graph's step order."""
        t, n, b = self.t, self.n, len(lids)
        width = pool.shape[1]
        tm = max(self.g.max_timers, 1)
        parts: list[tuple[I64, ...]] = []  # row, pid, code, rank, slot
        for p in range(n):
            lid = lids[:, p]
            cnt = t.ls_count.a[lid]
            tot = int(cnt.sum())
            if not tot:
                continue
            r = np.repeat(np.arange(b), cnt)
            offs = np.repeat(t.ls_start.a[lid] - (np.cumsum(cnt) - cnt), cnt) + np.arange(tot)
            grp, sub = t.ls_group.a[offs], t.ls_sub.a[offs]
            rank = np.where(grp == 0, p, n + width + np.where(grp == 1, p * tm + sub,
                                                              n * tm + p))
            parts.append((r, np.full(tot, p), t.ls_code.a[offs], rank, np.full(tot, width)))
        if width:
            valid = pool != PAD
            key = t.key.a[np.where(valid, pool, 0)]
            first = valid.copy()
            first[:, 1:] &= key[:, 1:] != key[:, :-1]
            r, j = np.nonzero(first)
            m = pool[r, j].astype(np.int64)
            parts.append((r, t.dest.a[m].astype(np.int64), 2 * m, n + j, j))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        row, pid, code, rank, slot = (np.concatenate(c) for c in zip(*parts, strict=True))
        order = np.lexsort((rank, row))
        return row[order], pid[order], code[order], slot[order]

    def dedup(self, visited: _Visited) -> None:
        """Mark the children seen neither before nor earlier in this chunk."""
        fps = fingerprints(self.children, self.n)
        u, first = np.unique(fps, return_index=True)
        fresh = ~visited.contains(u)
        self.new = np.sort(first[fresh])
        visited.add(u[fresh])

    def events(self, seen: _Seen) -> list[tuple[int, int, int]]:
        """The callbacks to make, as (candidate position, 0 = a parent without a step or
        1 = a failed or entering candidate, parent row or candidate), in order: the first
        of each view not passed before (see the module docstring)."""
        t, n = self.t, self.n
        ev: list[tuple[int, int, int]] = []
        finals = np.nonzero(np.bincount(self.row, minlength=len(self.rows)) == 0)[0]
        if len(finals):
            pos = np.searchsorted(self.row, finals)
            keys = t.sid.a[self.rows[finals, :n]]
            for i in seen.first(keys, np.arange(len(finals)), seen.finals):
                ev.append((int(pos[i]), 0, int(finals[i])))
        fail = np.nonzero(self.failed)[0]
        ev += [(c, 1, c) for c in seen.first(self.rid[fail], fail, seen.failures)]
        entered = np.nonzero(t.r_entered.a[self.rid[self.ok]])[0]  # children
        if len(entered):
            keys = np.concatenate([t.sid.a[self.children[entered, :n]],
                                   self.pid[self.ok[entered]][:, None],
                                   t.c_mid.a[self.comp[entered]][:, None]], axis=1)
            ev += [(c, 1, c) for c in seen.first(keys, self.ok[entered], seen.entries)]
        ev.sort()
        return ev

    def report(self, c: int, on_step: OnStep, path: Callable[[int], list[Step]]) -> None:
        """Call ``on_step`` for candidate ``c`` (failed, or entering the CS)."""
        g, n = self.g, self.n
        parent = int(self.row[c])
        step = g.step(int(self.code[c]))

        def full() -> list[Step]:
            return [*path(self.base + parent), step]

        state = _state(self.rows[parent], n)
        if self.failed[c]:
            on_step(state, step, None, g.results[int(self.rid[c])].failure, (), full)
            return
        i = int(np.searchsorted(self.ok, c))
        child = _state(self.children[i], n)
        mid = int(self.t.c_mid.a[self.comp[i]])
        on_step(state, step, child, None, (g.entry(int(self.pid[c]), child[0], mid),), full)

    def __repr__(self) -> str:
        return f"_Chunk({len(self.rows)} parents, {self.size} steps, {len(self.new)} new)"
