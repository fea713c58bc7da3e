"""The student API: a :class:`Node` reacts to events; a :class:`Message` is a value.

Write an algorithm as a subclass of :class:`Node` and override the handlers you need:

=====================  ================================================================
``on_start()``         once, before anything else; set up your state here
``on_request_cs()``    the workload wants the critical section (you are now *waiting*)
``on_message(msg)``    a message arrived (``msg.type``, ``msg.ts``, ``msg.sender``, ...)
``on_exit_cs()``       you just left the critical section (you are *idle* again)
``on_timer(name)``     a timer you set went off
=====================  ================================================================

and call these five:

=====================================  ====================================================
``send(to, type, payload=None)``       send one message; returns its Lamport timestamp
``broadcast(type, payload=None)``      send to every other process; one clock tick, so
                                       every copy carries the same timestamp (returned)
``set_timer(delay, name="timer")``     call ``on_timer(name)`` after ``delay``
``enter_cs()``                         you may enter now (only while *waiting*)
``clock``                              your Lamport clock (read only)
=====================================  ====================================================

plus ``pid`` (your id), ``peers`` (every other pid, ascending) and ``n``.

Critical-section states, kept by the simulator::

    idle --on_request_cs()--> waiting --enter_cs()--> in CS --(cs_time)--> idle
                                                              then on_exit_cs()

The simulator keeps your Lamport clock: every event ticks it (a receive first takes the
maximum with ``msg.ts``), every message carries the sender's new value in ``msg.ts``.
Nothing happens inside a handler but your own code: messages you send are delivered
later, in a separate step. Keep your state in plain attributes of ``self`` (numbers,
strings, tuples, lists, dicts, sets, frozen dataclasses, messages): the exhaustive
explorer copies and hashes them. Iterate sets in ``sorted`` order so runs stay
reproducible.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from course.sim._kernel import Kernel

__all__ = ["Message", "Node", "ProtocolError"]


class ProtocolError(RuntimeError):
    """A node broke the rules of the API (e.g. ``enter_cs()`` while not waiting)."""


class Message(NamedTuple):
    """An immutable, hashable message. ``ts`` and ``sender`` are set by the simulator."""

    type: str
    ts: int
    sender: int
    dest: int
    payload: Hashable = None

    def __repr__(self) -> str:
        extra = "" if self.payload is None else f" {self.payload!r}"
        return f"Message({self.type} ts={self.ts} P{self.sender}→P{self.dest}{extra})"


class Node:
    """Base class of a process; see the module docstring for the handlers and calls."""

    pid: int
    peers: tuple[int, ...]
    n: int
    _sim: Kernel

    # ----- handlers: override these -------------------------------------------------
    def on_start(self) -> None:
        """Called once before anything else; ``pid``, ``peers`` and ``n`` are set."""

    def on_request_cs(self) -> None:
        """The workload asks for the critical section; you are *waiting* now."""

    def on_message(self, msg: Message) -> None:
        """A message to you arrived."""

    def on_exit_cs(self) -> None:
        """You left the critical section and are *idle*; release it here."""

    def on_timer(self, name: str) -> None:
        """A timer set with :meth:`set_timer` went off."""

    # ----- calls -----------------------------------------------------------------------
    def send(self, to: int, type: str, payload: Hashable = None) -> int:
        """Send ``Message(type, ts, self.pid, to, payload)``; return its timestamp ts."""
        return self._sim.send(self.pid, to, type, payload)

    def broadcast(self, type: str, payload: Hashable = None) -> int:
        """Send the message to every peer (one clock tick, one ts on every copy)."""
        return self._sim.broadcast(self.pid, type, payload)

    def set_timer(self, delay: float, name: str = "timer") -> None:
        """Call ``on_timer(name)`` after ``delay`` time units."""
        self._sim.set_timer(self.pid, delay, name)

    def enter_cs(self) -> None:
        """Enter the critical section (allowed only while *waiting*)."""
        self._sim.enter_cs(self.pid)

    @property
    def clock(self) -> int:
        """Your Lamport clock: the timestamp of your latest event."""
        return self._sim.clock[self.pid]

    # ----- plumbing ----------------------------------------------------------------------
    def _attach(self, sim: Kernel, pid: int, n: int) -> None:
        self._sim = sim
        self.pid = pid
        self.n = n
        self.peers = tuple(q for q in range(n) if q != pid)

    def __repr__(self) -> str:
        pid = getattr(self, "pid", "?")
        fields = ", ".join(f"{k}={v!r}" for k, v in node_state(self).items())
        return f"{type(self).__name__}(P{pid}{': ' if fields else ''}{fields})"


_PLUMBING = frozenset({"_sim", "pid", "peers", "n"})


def node_state(node: Node) -> dict[str, Any]:
    """A node's own attributes (what the explorer copies and hashes), without plumbing."""
    return {k: v for k, v in vars(node).items() if k not in _PLUMBING}
