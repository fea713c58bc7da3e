"""Lamport's mutual exclusion (1978): a replicated queue ordered by (timestamp, pid).

* To ask: broadcast REQUEST(T) and put (T, me) in your own queue.
* On REQUEST(T) from j: put (T, j) in your queue and send REPLY (an acknowledgement).
* Enter when (1) your request is the smallest (ts, pid) in your queue and (2) you have
  received a message from every other process with a later (ts, pid) than your request.
* On exit: remove your request and broadcast RELEASE; on RELEASE from j remove j's
  request.

Needs FIFO channels: condition (2) relies on an earlier REQUEST of j arriving before j's
later messages. Per entry 3(N−1) messages; synchronization delay 1 message delay.
"""

from __future__ import annotations

from course.sim import Message, Node

__all__ = ["Lamport"]


class Lamport(Node):
    """Lamport's algorithm (REQUEST / REPLY / RELEASE, FIFO channels)."""

    fairness = "timestamp"  # entries in (request ts, pid) order

    def on_start(self) -> None:
        self.queue: set[tuple[int, int]] = set()  # known requests (ts, pid)
        self.latest: dict[int, tuple[int, int]] = {}  # peer → (ts, pid) of its last message
        self.mine: tuple[int, int] | None = None  # my pending request
        self.inside = False

    def on_request_cs(self) -> None:
        ts = self.broadcast("REQUEST")
        self.mine = (ts, self.pid)
        self.queue.add(self.mine)
        self.try_enter()

    def on_message(self, msg: Message) -> None:
        self.latest[msg.sender] = (msg.ts, msg.sender)
        if msg.type == "REQUEST":
            self.queue.add((msg.ts, msg.sender))
            self.send(msg.sender, "REPLY")
        elif msg.type == "RELEASE":
            self.queue = {r for r in self.queue if r[1] != msg.sender}
        self.try_enter()

    def try_enter(self) -> None:
        if self.mine is None or self.inside or min(self.queue) != self.mine:
            return
        if all(p in self.latest and self.latest[p] > self.mine for p in self.peers):
            self.inside = True
            self.enter_cs()

    def on_exit_cs(self) -> None:
        self.queue.discard(self.mine)
        self.mine = None
        self.inside = False
        self.broadcast("RELEASE")
