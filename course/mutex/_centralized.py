"""Centralized mutual exclusion: one coordinator (P0) hands out a single permission.

* A process that wants the CS sends REQUEST to the coordinator and waits for GRANT.
* The coordinator grants at once when nobody holds the permission, else it appends the
  requester to a FIFO queue. On RELEASE it grants to the head of the queue.
* The coordinator may itself ask: it queues itself like anyone else, without messages.

Per entry of a non-coordinator: 3 messages (REQUEST, GRANT, RELEASE); synchronization
delay 2 message delays (RELEASE to the coordinator, GRANT to the next). If the coordinator
crashes, nobody can enter any more.
"""

from __future__ import annotations

from course.sim import Message, Node

__all__ = ["Centralized"]

COORDINATOR = 0


class Centralized(Node):
    """Coordinator-based mutual exclusion (REQUEST / GRANT / RELEASE)."""

    fairness = "arrival"  # FIFO at the coordinator: happens-before order of requests

    def on_start(self) -> None:
        self.queue: list[int] = []  # coordinator only: waiting pids, first come first
        self.holder: int | None = None  # coordinator only: who may be in the CS

    def on_request_cs(self) -> None:
        if self.pid == COORDINATOR:
            self.request(self.pid)
        else:
            self.send(COORDINATOR, "REQUEST")

    def on_exit_cs(self) -> None:
        if self.pid == COORDINATOR:
            self.release()
        else:
            self.send(COORDINATOR, "RELEASE")

    def on_message(self, msg: Message) -> None:
        if msg.type == "GRANT":
            self.enter_cs()
        elif msg.type == "REQUEST":
            self.request(msg.sender)
        elif msg.type == "RELEASE":
            self.release()

    # ----- the coordinator's part -----------------------------------------------------------
    def request(self, pid: int) -> None:
        if self.holder is None:
            self.grant(pid)
        else:
            self.queue.append(pid)

    def release(self) -> None:
        self.holder = None
        if self.queue:
            self.grant(self.next_in_line())

    def next_in_line(self) -> int:
        return self.queue.pop(0)  # FIFO: the oldest request

    def grant(self, pid: int) -> None:
        self.holder = pid
        if pid == self.pid:
            self.enter_cs()
        else:
            self.send(pid, "GRANT")
