"""The step machine: the same kernel, driven by an explicit schedule instead of time.

An asynchronous system is a set of *steps* that may happen in any order; a schedule
picks one at a time. The steps (:class:`Step`) enabled in a state:

* ``request P``  – P is idle, alive and has requests left (times in the config are
  ignored: a request may come at any point);
* ``exit P``     – P is in the CS (it may stay there for any time);
* ``deliver m``  – m is in flight; on FIFO channels only the oldest message of each
  (sender, dest) channel; identical messages count once;
* ``timer P n``  – a timer of P is pending (timers may go off in any order);
* ``crash P``    – P has a ``Crash(pid, time=...)`` in the config and is alive.

Each step runs one handler of one process, so only that process's attributes change:
the explorer copies and hashes per process. Simulated time is the step number.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from typing import Any, NamedTuple

from course.sim._config import Config
from course.sim._kernel import IDLE, IN_CS, WAITING, Algorithm, Kernel, _Crashed, blame
from course.sim._node import _PLUMBING, Message
from course.sim._run import Run

__all__ = ["Entry", "Step", "StepKernel", "node_key", "replay"]


class Entry(NamedTuple):
    """A CS entry seen by the step machine: who entered with which request timestamp, the
    (ts, pid) of the latest entry before it (timestamp fairness only), and every live
    process still waiting as (pid, request ts, its request happened before this one:
    arrival fairness only)."""

    pid: int
    ts: int
    previous: tuple[int, int] | None
    waiting: tuple[tuple[int, int, bool], ...]


class Step(NamedTuple):
    """One step of a schedule: its kind, the process it runs on, and its message or
    timer name."""

    kind: str  # "request" | "exit" | "deliver" | "timer" | "crash"
    pid: int
    message: Message | None = None
    timer: str | None = None

    def __repr__(self) -> str:
        if self.kind == "deliver":
            return f"deliver {self.message!r}"
        if self.kind == "timer":
            return f"timer {self.timer!r} P{self.pid}"
        return f"{self.kind} P{self.pid}"


_new = tuple.__new__  # build a NamedTuple without its Python-level __new__
_ATOMS = frozenset({int, str, float, bool, type(None), tuple, frozenset, bytes, Message})


def _copy(v: Any) -> Any:
    """Copy mutable containers (list, dict, set, deque) so a state can be restored."""
    t = type(v)
    if t in _ATOMS:
        return v
    if t is list:
        return [x if type(x) in _ATOMS else _copy(x) for x in v]
    if t is dict:
        return {k: x if type(x) in _ATOMS else _copy(x) for k, x in v.items()}
    if t is set:
        return set(v)
    if t is deque:
        return deque(_copy(x) for x in v)
    return copy.deepcopy(v)


def _freeze(v: Any, where: str = "") -> Any:
    """A hashable stand-in for a state value. A dict is the mapping it holds (a frozenset
    of its items: insertion order is not part of the state), a set a frozenset; a list or
    deque keeps its order and freezes like the tuple with the same items."""
    t = type(v)
    if t in _ATOMS:
        return v
    if t is dict:
        try:
            return ("dict", frozenset(v.items()))  # C speed when the values are hashable
        except TypeError:
            return ("dict", frozenset((k, _freeze(x, where)) for k, x in v.items()))
    if t is list or t is deque:
        flat = tuple(v)
        try:
            hash(flat)
        except TypeError:
            return tuple(_freeze(x, where) for x in flat)
        return flat
    if t is set:
        return frozenset(v)
    try:
        hash(v)
    except TypeError:
        raise TypeError(f"Node state {where} holds unhashable {v!r}; keep state in numbers, "
                        f"strings, tuples, lists, dicts, sets or frozen dataclasses") from None
    return v


def node_key(d: dict[str, Any], pid: int) -> tuple:
    """The canonical state of a node from its attribute dict: (name, frozen value) pairs
    sorted by name, plumbing left out, so the order attributes were set in does not
    matter either."""
    return tuple(sorted((k, v if type(v) in _ATOMS else _freeze(v, f"P{pid}.{k}"))
                        for k, v in d.items() if k not in _PLUMBING))


_node_key = node_key  # the old private name


def _channel(m: Message) -> tuple[int, int]:
    return (m[2], m[3])


def handler_of(step: Step) -> str:
    """The handler a step runs, with its argument: ``on_message(Message(...))``."""
    kind = step[0]
    if kind == "deliver":
        return f"on_message({step[2]!r})"
    if kind == "timer":
        return f"on_timer({step[3]!r})"
    return {"request": "on_request_cs()", "exit": "on_exit_cs()"}.get(kind, kind)


class Snapshot(NamedTuple):
    """A state: per-process attribute dicts and their hash keys, plus kernel lists."""

    nodes: tuple[dict[str, Any], ...]
    node_keys: tuple[tuple, ...]
    kernel: tuple
    key: tuple


class StepKernel(Kernel):
    """A kernel whose steps are chosen from outside (see the module docstring).

    Every CS entry of a step is noted in ``entries`` (an :class:`Entry`). With
    ``fairness="timestamp"`` (or True) the state also keeps the requests' timestamps and the
    latest entry's (ts, pid); with ``fairness="arrival"`` each process's knowledge of
    requests (a count per process, carried by messages), so an entry can be checked
    against the requests that happened before it.
    """

    def __init__(self, algorithm: Algorithm, config: Config, *, record: bool = False,
                 fairness: bool | str = False) -> None:
        super().__init__(algorithm, config, record=record)
        self.remaining = list(config.requests_per_process())
        self.inflight: list[Message] = []
        self.mids: dict[Message, deque[int]] = {}
        self.timers: list[tuple[int, str]] = []
        self.may_crash = sorted({c.pid for c in config.crashes if c.time is not None})
        if fairness not in (False, True, None, "timestamp", "arrival"):
            raise ValueError(f"fairness must be False, 'timestamp' or 'arrival', got "
                             f"{fairness!r}")
        self.fairness = "timestamp" if fairness is True else (fairness or None)
        self.last_entered: tuple[int, int] | None = None
        # "arrival": requests each process has heard of (a count per process), the counts
        # as of each one's current request, and the counts each sent message carries
        self.seen = [(0,) * self.n] * self.n
        self.pred: list[tuple[int, ...] | None] = [None] * self.n
        self.tags: dict[tuple[int, int], tuple[int, ...]] = {}
        self.entries: list[Entry] = []
        self.steps = 0
        self._loaded: list[dict[str, Any] | None] = [None] * self.n  # shared dict in node p
        self._start()

    # ----- kernel hooks ------------------------------------------------------------------
    def _post(self, msg: Message, mid: int) -> None:
        if self.crashed[msg[3]]:
            return
        self.inflight.append(msg)
        if self.log is not None:
            self.mids.setdefault(msg, deque()).append(mid)
        if self.fairness == "arrival":
            self.tags[(msg[2], msg[1])] = self.seen[msg[2]]

    def _on_enter(self, pid: int) -> None:
        fair = self.fairness
        if fair is None:
            self.entries.append(Entry(pid, self.req_ts[pid], None, ()))
            return
        pred = self.pred[pid] or ()
        waiting = tuple(
            (q, self.req_ts[q], fair == "arrival" and pred[q] >= self.seen[q][q] > 0)
            for q in range(self.n)
            if q != pid and self.status[q] == WAITING and not self.crashed[q])
        self.entries.append(Entry(pid, self.req_ts[pid], self.last_entered, waiting))
        if fair == "timestamp":
            self.last_entered = (self.req_ts[pid], pid)

    def _set_timer(self, pid: int, delay: float, name: str) -> None:
        self.timers.append((pid, name))

    def _crash(self, pid: int) -> None:
        super()._crash(pid)
        self.inflight = [m for m in self.inflight if m[3] != pid]
        self.timers = [t for t in self.timers if t[0] != pid]

    # ----- steps -------------------------------------------------------------------------
    def enabled(self) -> list[Step]:
        """The steps that may come next, in a fixed order."""
        out = []
        for p in range(self.n):
            if self.crashed[p]:
                continue
            if self.status[p] == IDLE and self.remaining[p]:
                out.append(_new(Step, ("request", p, None, None)))
            elif self.status[p] == IN_CS:
                out.append(_new(Step, ("exit", p, None, None)))
        seen: set[Any] = set()
        fifo = self.config.fifo
        for m in self.inflight:
            k = (m[2], m[3]) if fifo else m
            if k not in seen:
                seen.add(k)
                out.append(_new(Step, ("deliver", m[3], m, None)))
        for t in dict.fromkeys(self.timers):
            out.append(Step("timer", t[0], timer=t[1]))
        for p in self.may_crash:
            if not self.crashed[p]:
                out.append(Step("crash", p))
        return out

    def apply(self, step: Step) -> None:
        """Take one enabled step (the caller makes sure it is enabled)."""
        self.steps += 1
        self.now = float(self.steps)
        kind, pid = step[0], step[1]
        try:
            if kind == "deliver":
                msg = step[2]
                self.inflight.remove(msg)  # type: ignore[arg-type]
                if self.fairness == "arrival":
                    self._hear(msg)  # type: ignore[arg-type]
                mid = self.mids[msg].popleft() if self.log is not None else -1  # type: ignore[index]
                self._deliver(msg, mid)  # type: ignore[arg-type]
            elif kind == "request":
                self.remaining[pid] -= 1
                if self.fairness == "arrival":
                    s = self.seen[pid]
                    self.seen[pid] = self.pred[pid] = (*s[:pid], s[pid] + 1, *s[pid + 1:])
                self._request(pid)
            elif kind == "exit":
                self._exit(pid)
            elif kind == "timer":
                self.timers.remove((pid, step[3]))  # type: ignore[arg-type]
                self._timer(pid, step[3])  # type: ignore[arg-type]
            elif kind == "crash":
                self._crash(pid)
            else:
                raise ValueError(f"Unknown step kind in {step!r}")
        except _Crashed as c:
            self._crash(c.pid)
        except Exception as exc:
            exc.add_note(f"in step {self.steps} ({step!r}) of {self.algorithm}")
            blame(exc, pid, handler_of(step), f"step {self.steps}: {step!r}")
            raise

    def _hear(self, msg: Message) -> None:
        """Arrival ghost: the receiver now knows of every request its sender knew of."""
        tag = self.tags[(msg[2], msg[1])]
        mine = self.seen[msg[3]]
        self.seen[msg[3]] = tuple(a if a > b else b for a, b in zip(mine, tag, strict=True))

    def in_cs(self) -> list[int]:
        """Live processes in the CS."""
        return [p for p in range(self.n) if self.status[p] == IN_CS and not self.crashed[p]]

    def stuck(self) -> list[int]:
        """Live processes still waiting or with requests left."""
        return [p for p in range(self.n) if not self.crashed[p]
                and (self.status[p] == WAITING or self.remaining[p])]

    # ----- states ------------------------------------------------------------------------
    def _kernel_state(self) -> tuple:
        ghost = ((tuple(self.seen), tuple(self.pred), dict(self.tags))
                 if self.fairness == "arrival" else None)
        return (tuple(self.clock), tuple(self.status), tuple(self.remaining),
                tuple(self.crashed), tuple(self.inflight), tuple(self.timers),
                tuple(self.req_ts), self.last_entered, tuple(self.nev), ghost)

    def _kernel_key(self) -> tuple:
        if self.config.fifo:  # per-channel order matters, interleaving across channels not
            infl: Any = tuple(sorted(self.inflight, key=_channel))
        else:  # a multiset
            try:
                infl = tuple(sorted(self.inflight))
            except TypeError:  # payloads that do not compare
                infl = frozenset(Counter(self.inflight).items())
        return (tuple(self.clock), tuple(self.status), tuple(self.remaining),
                tuple(self.crashed), infl, tuple(sorted(self.timers)),
                self._ghost_key(infl),
                tuple(self.nev) if self.crash_after else None)

    def _ghost_key(self, infl: Any) -> Any:
        if self.fairness == "timestamp":
            return (tuple(self.req_ts), self.last_entered)
        if self.fairness == "arrival":
            msgs = infl if type(infl) is tuple else sorted(m for m, _ in infl)
            return (tuple(self.seen), tuple(self.pred),
                    tuple(self.tags[(m[2], m[1])] for m in msgs))
        return None

    def save(self, parent: Snapshot | None = None, pid: int | None = None) -> Snapshot:
        """Snapshot the state. After a step on ``pid`` from ``parent``, only ``pid``'s
        attributes are new (the others are shared with the parent)."""
        if parent is None or pid is None:
            dicts = tuple(dict(node.__dict__) for node in self.nodes)
            keys = tuple(None if self.crashed[p] else _node_key(d, p)
                         for p, d in enumerate(dicts))
        else:
            d = dict(self.nodes[pid].__dict__)
            dicts = (*parent.nodes[:pid], d, *parent.nodes[pid + 1:])
            keys = (*parent.node_keys[:pid], None if self.crashed[pid] else _node_key(d, pid),
                    *parent.node_keys[pid + 1:])
        return _new(Snapshot, (dicts, keys, self._kernel_state(), (keys, self._kernel_key())))

    def load(self, snap: Snapshot, pid: int | None = None) -> None:
        """Restore ``snap``; only ``pid`` gets fresh copies (the step about to run may
        change it), the others share the snapshot's values. ``pid=None``: read only."""
        loaded = self._loaded
        for p, (node, d) in enumerate(zip(self.nodes, snap.nodes, strict=True)):
            if p == pid:
                nd = node.__dict__
                nd.clear()
                nd.update({k: v if type(v) in _ATOMS or k in _PLUMBING else _copy(v)
                           for k, v in d.items()})
                loaded[p] = None
            elif loaded[p] is not d:  # values shared with the snapshot: read only
                nd = node.__dict__
                nd.clear()
                nd.update(d)
                loaded[p] = d
        (clock, status, remaining, crashed, inflight, timers, req_ts, self.last_entered,
         nev, ghost) = snap.kernel
        self.clock[:] = clock
        self.status[:] = status
        self.remaining[:] = remaining
        self.crashed[:] = crashed
        self.inflight = list(inflight)
        self.timers = list(timers)
        self.req_ts[:] = req_ts
        self.nev[:] = nev
        if ghost is not None:
            seen, pred, tags = ghost
            self.seen[:] = seen
            self.pred[:] = pred
            self.tags = dict(tags)
        self.entries = []


def replay(algorithm: Algorithm, config: Config, schedule: list[Step] | tuple[Step, ...]
           ) -> Run:
    """Run ``schedule`` step by step and return the recorded :class:`Run` (time = step
    number). A step that is not enabled raises ValueError; an exception inside a handler
    ends the run and is kept in ``run.error`` (the node, handler, step and exception, as
    the explorer reports it)."""
    k = StepKernel(algorithm, config, record=True)
    error = None
    for i, step in enumerate(schedule):
        enabled = k.enabled()
        if step not in enabled:
            raise ValueError(f"Step {i} ({step!r}) is not enabled; enabled: {enabled}")
        try:
            k.apply(step)
        except Exception as exc:
            error = str(blame(exc, step.pid, handler_of(step), f"step {i + 1}: {step!r}"))
            break
    return k.result(seed=None, quiescent=error is None and not k.enabled(),
                    schedule=tuple(schedule), error=error)
