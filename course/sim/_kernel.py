"""The simulation kernel: simulated time, an event queue, Lamport clocks, a seeded network.

Time is a number, never the wall clock; processes are plain objects whose handlers run one
at a time. :class:`Kernel` does what nodes ask (send, broadcast, timers, entering the CS)
and keeps the books: Lamport clocks, critical-section states, the record of every event.
*When* things happen is decided by a driver: :func:`simulate` pops a heap ordered by
(simulated time, insertion number); the step machine in ``course.sim._steps`` follows an
explicit schedule instead (exhaustive search and replay).

Every recorded event ticks the clock of its process; a receive sets it to
max(own, msg.ts) + 1. A broadcast is *one* event for the clock (every copy carries the same
ts, as "send REQUEST(T, i) to all" in the lecture) but one send event per copy in the
trace.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any

from course.sim._config import Config
from course.sim._events import EventKind, PendingKind
from course.sim._node import Message, Node, ProtocolError
from course.sim._run import Run

__all__ = ["IDLE", "IN_CS", "STATUS", "WAITING", "HandlerFailure", "Kernel", "blame", "simulate"]

IDLE, WAITING, IN_CS = 0, 1, 2
# The hot path records plain strings (EventKind's values): a tuple holding only ints,
# floats and strings is untracked by the cyclic garbage collector, one holding an enum
# member is not, and 10^5 of those make every collection slower. Run.log types them.
SEND, RECEIVE, LOCAL = (k.value for k in EventKind)
STATUS = ("idle", "waiting", "in CS")
_new_message = _new = tuple.__new__  # Message(...) without the NamedTuple __new__ overhead

Algorithm = type[Node] | Callable[[], Node]


@dataclass(frozen=True)
class HandlerFailure:
    """A handler that raised: the node, the handler (with its argument), where in the run
    (``"time 3.5"`` or ``"step 4: deliver ..."``) and the exception as ``Type: text``. The
    simulator attaches the innermost one to the exception as ``course_failure``; the
    explorer and :func:`course.mutex.check_seeds` report its ``str``."""

    pid: int
    handler: str
    where: str
    error: str

    def __str__(self) -> str:
        return f"{self.error}, raised by P{self.pid}.{self.handler} at {self.where}"


def blame(exc: BaseException, pid: int, handler: str, where: str) -> HandlerFailure:
    """Attach (once: the innermost handler wins) and return ``exc``'s HandlerFailure."""
    found = getattr(exc, "course_failure", None)
    if found is None:
        found = HandlerFailure(pid, handler, where, f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(AttributeError):  # an exception type without a __dict__
            exc.course_failure = found  # type: ignore[attr-defined]
    return found


class _Crashed(BaseException):
    """Unwinds a handler when its process crashes right after an event (not an Exception,
    so a node's ``except Exception`` cannot swallow it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


class Kernel:
    """What nodes can ask of the simulator, and the record of a run.

    Per process: Lamport ``clock``, CS ``status`` (IDLE/WAITING/IN_CS), ``crashed`` flag,
    number of recorded events ``nev`` and the timestamp of its latest request ``req_ts``.
    ``log`` holds (pid, kind, message id, tag, time, ts) per event in execution order
    (None when not recording). Subclasses implement ``_post`` (a message leaves its
    sender), ``_on_enter`` (a process entered the CS) and ``_set_timer``.
    """

    def __init__(self, algorithm: Algorithm, config: Config, *, record: bool = True) -> None:
        if not isinstance(config, Config):
            raise TypeError(f"config must be a Config, got {config!r}")
        n = config.n
        self.config = config
        self.algorithm = getattr(algorithm, "__name__", type(algorithm).__name__)
        self.n = n
        self.now = 0.0
        self.clock = [0] * n
        self.status = [IDLE] * n
        self.crashed = [False] * n
        self.nev = [0] * n
        self.req_ts = [0] * n
        # One (pid, kind, mid, tag, time, ts) per event: LogEntry's fields (course.sim._events)
        self.log: list[tuple[int, str, int, str | None, float, int]] | None = (
            [] if record else None)
        self.nmsg = 0
        self.delivered = 0
        self.crash_times: dict[int, float] = {}
        self.crash_after = {c.pid: c.event for c in config.crashes if c.event is not None}
        self.intervals: list[dict[str, Any]] = []  # one per request, when recording
        self.current: list[dict[str, Any] | None] = [None] * n
        self.nodes = [self._make(algorithm, pid) for pid in range(n)]

    def _make(self, algorithm: Algorithm, pid: int) -> Node:
        node = algorithm()
        if not isinstance(node, Node):
            raise TypeError(f"{algorithm!r} made {node!r}, which is not a course.sim.Node")
        node._attach(self, pid, self.n)
        return node

    # ----- recording -------------------------------------------------------------------
    def _record(self, pid: int, kind: str, mid: int, tag: str | None, ts: int) -> None:
        k = self.nev[pid] + 1
        self.nev[pid] = k
        if self.log is not None:
            self.log.append((pid, kind, mid, tag, self.now, ts))  # a LogEntry's fields
        if self.crash_after and self.crash_after.get(pid) == k:
            raise _Crashed(pid)

    def _local(self, pid: int, tag: str) -> int:
        """Tick and record a local event; return its timestamp."""
        c = self.clock[pid] + 1
        self.clock[pid] = c
        self._record(pid, LOCAL, -1, tag, c)
        return c

    def _interval_event(self, pid: int, when: str) -> None:
        """Note the next event of ``pid`` as the request/enter/exit of its interval."""
        if self.log is None:
            return
        name = f"P{pid}.{self.nev[pid] + 1}"
        if when == "request":
            self.current[pid] = iv = {
                "pid": pid,
                "requested": self.now,
                "request_event": name,
                "ts": self.clock[pid] + 1,
            }
            self.intervals.append(iv)
        else:
            iv = self.current[pid]  # type: ignore[assignment]
            iv[when] = self.now  # "entered" / "exited"
            iv[when[:-2] + "_event"] = name  # "enter_event" / "exit_event"

    # ----- what nodes call ---------------------------------------------------------------
    def send(self, src: int, dest: int, mtype: str, payload: Hashable = None) -> int:
        if type(dest) is not int or not 0 <= dest < self.n or dest == src:
            raise ProtocolError(
                f"P{src} cannot send {mtype!r} to {dest!r}; peers are "
                f"{[q for q in range(self.n) if q != src]}"
            )
        c = self.clock[src] + 1
        self.clock[src] = c
        self._emit(src, dest, mtype, payload, c)
        return c

    def broadcast(self, src: int, mtype: str, payload: Hashable = None) -> int:
        if self.n == 1:
            return self.clock[src]
        c = self.clock[src] + 1
        self.clock[src] = c
        for dest in range(self.n):
            if dest != src:
                self._emit(src, dest, mtype, payload, c)
        return c

    def _emit(self, src: int, dest: int, mtype: str, payload: Hashable, ts: int) -> None:
        if not isinstance(mtype, str):
            raise ProtocolError(f"P{src}: message type must be a str, got {mtype!r}")
        msg = _new_message(Message, (mtype, ts, src, dest, payload))
        mid = self.nmsg
        self.nmsg = mid + 1
        self._post(msg, mid)
        self._record(src, SEND, mid, mtype, ts)

    def set_timer(self, pid: int, delay: float, name: str) -> None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0:
            raise ValueError(f"Negative or non-numeric timer delay {delay!r} set by P{pid}")
        self._set_timer(pid, float(delay), name)

    def enter_cs(self, pid: int) -> None:
        if self.status[pid] != WAITING:
            raise ProtocolError(
                f"P{pid} called enter_cs() while {STATUS[self.status[pid]]}"
                f" (allowed only while waiting)"
            )
        self.status[pid] = IN_CS
        self._interval_event(pid, "entered")
        self._local(pid, "cs-enter")
        self._on_enter(pid)

    # ----- what drivers call ---------------------------------------------------------------
    def _start(self) -> None:
        for node in self.nodes:
            self._guard(node.pid, node.on_start, "on_start()")

    def _guard(self, pid: int, fn: Callable[[], None], what: str) -> None:
        """Run one step of process ``pid``; a crash inside it is handled here."""
        try:
            fn()
        except _Crashed as c:
            self._crash(c.pid)
        except Exception as exc:
            exc.add_note(f"in P{pid}.{what} at time {self.now:g} ({self.algorithm})")
            blame(exc, pid, what, f"time {self.now:g}")
            raise

    def _request(self, pid: int) -> None:
        self.status[pid] = WAITING
        self._interval_event(pid, "request")
        self.req_ts[pid] = self._local(pid, "cs-request")
        self.nodes[pid].on_request_cs()

    def _exit(self, pid: int) -> None:
        self.status[pid] = IDLE
        self._interval_event(pid, "exited")
        self._local(pid, "cs-exit")
        self.nodes[pid].on_exit_cs()

    def _deliver(self, msg: Message, mid: int) -> None:
        dest = msg[3]
        ts = msg[1]
        c = self.clock[dest]
        c = (c if c > ts else ts) + 1
        self.clock[dest] = c
        self.delivered += 1
        self._record(dest, RECEIVE, mid, msg[0], c)
        self.nodes[dest].on_message(msg)

    def _timer(self, pid: int, name: str) -> None:
        self._local(pid, "timer")
        self.nodes[pid].on_timer(name)

    def _crash(self, pid: int) -> None:
        if self.crashed[pid]:
            return
        self.crashed[pid] = True
        self.crash_times[pid] = self.now
        iv = self.current[pid]
        if self.status[pid] != IDLE and iv is not None:
            iv["crashed"] = True
            if self.status[pid] == IN_CS:
                self._interval_event(pid, "exited")
        c = self.clock[pid] + 1
        self.clock[pid] = c
        self.nev[pid] += 1
        if self.log is not None:
            self.log.append((pid, LOCAL, -1, "crash", self.now, c))

    # ----- hooks for drivers -------------------------------------------------------------
    def _post(self, msg: Message, mid: int) -> None:
        raise NotImplementedError

    def _on_enter(self, pid: int) -> None:
        raise NotImplementedError

    def _set_timer(self, pid: int, delay: float, name: str) -> None:
        raise NotImplementedError

    def result(
        self,
        *,
        seed: int | None,
        quiescent: bool,
        schedule: tuple | None = None,
        error: str | None = None,
        lost: int = 0,
    ) -> Run:
        return Run(
            algorithm=self.algorithm,
            config=self.config,
            seed=seed,
            n=self.n,
            log=self.log or [],
            intervals=self.intervals,
            crashes=self.crash_times,
            end_time=self.now,
            quiescent=quiescent,
            messages_sent=self.nmsg,
            delivered=self.delivered,
            lost=lost,
            schedule=schedule,
            error=error,
            recorded=self.log is not None,
        )

    def __repr__(self) -> str:
        states = ", ".join(
            f"P{p}:{'crashed' if self.crashed[p] else STATUS[s]}" for p, s in enumerate(self.status)
        )
        return f"{type(self).__name__}({self.algorithm}, t={self.now:g}, {states})"


DELIVER, REQUEST, EXIT, TIMER, CRASH = PendingKind


class _Timed(Kernel):
    """Drives a kernel by simulated time: a heap of (time, number, kind, a, b)."""

    def __init__(
        self, algorithm: Algorithm, config: Config, seed: int, record: bool = True
    ) -> None:
        super().__init__(algorithm, config, record=record)
        self.rng = random.Random(seed)
        # (time, seq, kind, a, b): Pending's fields (course.sim._events), unpacked by name in
        # run(); plain tuples, as a named tuple per message costs a fifth of the speed.
        self.heap: list[tuple[float, int, PendingKind, Any, Any]] = []
        self.seq = 0
        self.last = [0.0] * (config.n * config.n)  # FIFO: latest arrival per channel
        self.backlog = [0] * config.n
        self.lost = 0
        self._sample = config.delay.sample  # type: ignore[union-attr]

    def _push(self, t: float, kind: PendingKind, a: Any, b: Any = None) -> None:
        heapq.heappush(self.heap, (t, self.seq, kind, a, b))  # a Pending's fields
        self.seq += 1

    def _post(self, msg: Message, mid: int) -> None:
        cfg = self.config
        if cfg.loss and self.rng.random() < cfg.loss:
            self.lost += 1
            return
        d = self._sample(self.rng)
        if not d >= 0:
            raise ValueError(f"Negative delay {d} drawn from {cfg.delay!r}")
        t = self.now + d
        if cfg.fifo:
            ch = msg[2] * self.n + msg[3]
            if t < self.last[ch]:
                t = self.last[ch]
            self.last[ch] = t
        heapq.heappush(self.heap, (t, self.seq, DELIVER, msg, mid))
        self.seq += 1

    def send(self, src: int, dest: int, mtype: str, payload: Hashable = None) -> int:
        # Kernel.send → _emit → _record, inlined: the hot path of a timed run.
        if (
            type(dest) is not int
            or not 0 <= dest < self.n
            or dest == src
            or (type(mtype) is not str)
        ):
            return super().send(src, dest, mtype, payload)  # raises the right error
        c = self.clock[src] + 1
        self.clock[src] = c
        mid = self.nmsg
        self.nmsg = mid + 1
        self._post(_new_message(Message, (mtype, c, src, dest, payload)), mid)
        k = self.nev[src] + 1
        self.nev[src] = k
        if self.log is not None:
            self.log.append((src, SEND, mid, mtype, self.now, c))
        if self.crash_after and self.crash_after.get(src) == k:
            raise _Crashed(src)
        return c

    def _on_enter(self, pid: int) -> None:
        d = self.config.cs_time.sample(self.rng)  # type: ignore[union-attr]
        if not d >= 0:
            raise ValueError(f"Negative CS duration {d} drawn from {self.config.cs_time!r}")
        self._push(self.now + d, EXIT, pid)

    def _set_timer(self, pid: int, delay: float, name: str) -> None:
        self._push(self.now + delay, TIMER, pid, name)

    def run(self) -> bool:
        """Run until nothing is left (True) or a limit is hit (False)."""
        cfg = self.config
        for c in cfg.crashes:
            if c.time is not None:
                self._push(c.time, CRASH, c.pid)
        for pid, t in cfg.requests:  # type: ignore[union-attr]
            self._push(t, REQUEST, pid)
        self._start()
        heap, pop = self.heap, heapq.heappop
        crashed, nodes, clock, nev = self.crashed, self.nodes, self.clock, self.nev
        log, crash_after = self.log, self.crash_after
        max_time, max_events, steps = cfg.max_time, cfg.max_events, 0
        while heap:
            if heap[0][0] > max_time or steps >= max_events:  # its time
                return False
            t, _, kind, a, b = pop(heap)
            self.now = t
            steps += 1
            if kind == DELIVER:
                if crashed[a[3]]:
                    continue
                try:  # Kernel._deliver and _record, inlined: this is the hot path
                    dest, ts = a[3], a[1]
                    c = clock[dest]
                    c = (c if c > ts else ts) + 1
                    clock[dest] = c
                    self.delivered += 1
                    k = nev[dest] + 1
                    nev[dest] = k
                    if log is not None:
                        log.append((dest, RECEIVE, b, a[0], t, c))
                    if crash_after and crash_after.get(dest) == k:
                        raise _Crashed(dest)
                    nodes[dest].on_message(a)
                except _Crashed as x:
                    self._crash(x.pid)
                except Exception as exc:
                    exc.add_note(f"in P{a[3]}.on_message({a!r}) at time {t:g} ({self.algorithm})")
                    blame(exc, a[3], f"on_message({a!r})", f"time {t:g}")
                    raise
            elif crashed[a]:
                continue
            elif kind == REQUEST:
                if self.status[a] == IDLE:
                    self._guard(a, partial(self._request, a), "on_request_cs()")
                else:
                    self.backlog[a] += 1
            elif kind == EXIT:
                self._guard(a, partial(self._exit, a), "on_exit_cs()")
                if self.backlog[a] and not crashed[a] and self.status[a] == IDLE:
                    self.backlog[a] -= 1
                    self._guard(a, partial(self._request, a), "on_request_cs()")
            elif kind == TIMER:
                self._guard(a, partial(self._timer, a, b), f"on_timer({b!r})")
            else:
                self._crash(a)
        return True


def simulate(
    algorithm: Algorithm, config: Config | None = None, seed: int = 0, *, record: bool = True
) -> Run:
    """Run ``algorithm`` (a Node subclass) under ``config`` with randomness from ``seed``.

    The result is a pure function of the three arguments. ``record=False`` skips the
    trace (and CS intervals) for raw speed.
    """
    config = Config() if config is None else config
    k = _Timed(algorithm, config, seed, record=record)
    quiescent = k.run()
    return k.result(seed=seed, quiescent=quiescent, lost=k.lost)
