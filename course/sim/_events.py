"""The simulator's records: one :class:`LogEntry` per recorded event, one
:class:`Pending` per scheduled happening of a timed run.

The hot paths (a timed run delivers 10^5-10^6 messages) write plain tuples in these
records' field order, with the kinds' plain values: a named tuple built per event costs
10-20 % of the simulator's speed, and a tuple holding an enum member stays tracked by the
cyclic garbage collector, which then slows every collection as the log grows. Readers never
index them: ``Run.log`` gives the recorded events as :class:`LogEntry` records (typed once,
on first use), and the run loop unpacks a heap entry into the names of :class:`Pending`.
A pending happening sorts by (time, seq): ``seq`` is unique and increasing, so ties in time
go in scheduling order and the operands are never compared.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

__all__ = ["EventKind", "LogEntry", "Pending", "PendingKind"]


class EventKind(StrEnum):
    """What a recorded event is (equal to the plain strings "send", "receive", "local")."""

    SEND = "send"
    RECEIVE = "receive"
    LOCAL = "local"


class LogEntry(NamedTuple):
    """One recorded event: the process, its kind, the message id (-1 for a local event),
    its tag (the message type, or a local event's label such as "cs-enter"), the
    simulated time and the Lamport timestamp the simulator gave it."""

    pid: int
    kind: EventKind
    mid: int
    tag: str | None
    time: float
    ts: int


class PendingKind(IntEnum):
    """What a timed run's heap entry makes happen."""

    DELIVER = 0  # a: the Message, b: its id
    REQUEST = 1  # a: the pid
    EXIT = 2  # a: the pid leaving the CS
    TIMER = 3  # a: the pid, b: the timer's name
    CRASH = 4  # a: the pid


class Pending(NamedTuple):
    """A heap entry of a timed run: when, a tie-breaking sequence number, what, and its
    two operands (see :class:`PendingKind`)."""

    time: float
    seq: int
    kind: PendingKind
    a: Any
    b: Any
