"""Ricart–Agrawala (1981): ask everyone, enter with every peer's permission.

States: ``released`` → ``wanted`` (asked) → ``held`` (in the CS) → ``released``.

* To ask: state = wanted, broadcast REQUEST(T); remember (T, me).
* On REQUEST(T) from j: defer the reply if held, or if wanted and (my T, me) < (T, j);
  otherwise REPLY at once.
* Enter when all N−1 peers have replied; on exit reply to everyone deferred.

Per entry 2(N−1) messages; synchronization delay 1 message delay. No FIFO needed.
"""

from __future__ import annotations

from course.sim import Message, Node

__all__ = ["RicartAgrawala"]


class RicartAgrawala(Node):
    """Ricart–Agrawala (REQUEST / REPLY with deferral by (timestamp, pid))."""

    fairness = "timestamp"  # entries in (request ts, pid) order

    def on_start(self) -> None:
        self.state = "released"
        self.mine: tuple[int, int] | None = None  # my request (ts, pid)
        self.replies: set[int] = set()  # peers that said yes
        self.deferred: list[int] = []  # peers to answer when I leave

    def on_request_cs(self) -> None:
        self.state = "wanted"
        self.replies = set()
        self.mine = (self.broadcast("REQUEST"), self.pid)
        self.try_enter()

    def on_message(self, msg: Message) -> None:
        if msg.type == "REQUEST":
            if self.defers(msg):
                self.deferred.append(msg.sender)
            else:
                self.send(msg.sender, "REPLY")
        elif msg.type == "REPLY":
            self.replies.add(msg.sender)
            self.try_enter()

    def defers(self, msg: Message) -> bool:
        return self.state == "held" or (
            self.state == "wanted" and self.mine < (msg.ts, msg.sender))  # type: ignore[operator]

    def try_enter(self) -> None:
        if self.state == "wanted" and len(self.replies) == len(self.peers):
            self.state = "held"
            self.enter_cs()

    def on_exit_cs(self) -> None:
        self.state = "released"
        self.mine = None
        for p in self.deferred:
            self.send(p, "REPLY")
        self.deferred = []
