"""A zoo of broken mutual-exclusion algorithms: each must be caught by the checkers.

Every entry is a small edit of a reference algorithm the way a student might get it
wrong, the scenario that exposes it, and how it is caught: ``"explore"`` (exhaustive
search: safety, deadlock or errors), ``"explore-fairness"`` (exhaustive search with the
(timestamp, pid) order check) or ``"seeds-causal"`` (random runs + the happens-before
fairness check).
"""

from __future__ import annotations

from dataclasses import dataclass

from course.mutex import Centralized, Lamport, RicartAgrawala
from course.sim import Config, Message, Node

# ----- Ricart–Agrawala ------------------------------------------------------------------------


class RAReplyWhileInCS(RicartAgrawala):
    """Forgets to defer while *held*: replies to everybody while in the CS."""

    def defers(self, msg: Message) -> bool:
        return self.state == "wanted" and self.mine < (msg.ts, msg.sender)  # type: ignore[operator]


class RADropsDeferred(RicartAgrawala):
    """Never answers the requests it deferred."""

    def on_exit_cs(self) -> None:
        self.state = "released"
        self.mine = None
        self.deferred = []


class RATieLargerPid(RicartAgrawala):
    """Breaks timestamp ties in favour of the larger pid (a consistent order, but not the
    lecture's (ts, pid))."""

    def defers(self, msg: Message) -> bool:
        return self.state == "held" or (
            self.state == "wanted"
            and (self.mine[0], -self.pid) < (msg.ts, -msg.sender))  # type: ignore[index]


class RATimestampOnly(RicartAgrawala):
    """Compares timestamps only: on a tie both sides reply."""

    def defers(self, msg: Message) -> bool:
        return self.state == "held" or (self.state == "wanted"
                                        and self.mine[0] < msg.ts)  # type: ignore[index]


class RAOffByOne(RicartAgrawala):
    """Enters after N-2 replies."""

    def try_enter(self) -> None:
        if self.state == "wanted" and len(self.replies) >= len(self.peers) - 1:
            self.state = "held"
            self.enter_cs()


class RACurrentClock(RicartAgrawala):
    """Compares the *current* clock instead of the request's timestamp."""

    def defers(self, msg: Message) -> bool:
        return self.state == "held" or (self.state == "wanted"
                                        and (self.clock, self.pid) < (msg.ts, msg.sender))


# ----- Lamport ------------------------------------------------------------------------------


class LamportNoAcks(Lamport):
    """Enters as soon as its request heads its own queue, without hearing from everyone."""

    def try_enter(self) -> None:
        if self.mine is not None and not self.inside and min(self.queue) == self.mine:
            self.inside = True
            self.enter_cs()


class LamportKeepsReleased(Lamport):
    """Ignores RELEASE: the released request stays at the head of the queue."""

    def on_message(self, msg: Message) -> None:
        if msg.type == "RELEASE":
            self.latest[msg.sender] = (msg.ts, msg.sender)
            self.try_enter()
        else:
            super().on_message(msg)


# ----- centralized ------------------------------------------------------------------------------


class CentralizedLIFO(Centralized):
    """The coordinator serves the *newest* request first (a stack, not a queue)."""

    def next_in_line(self) -> int:
        return self.queue.pop()


class CentralizedNoHolder(Centralized):
    """The coordinator grants every request at once."""

    def request(self, pid: int) -> None:
        self.grant(pid)


class CentralizedDoubleEnter(Node):
    """Enters on GRANT even when it never asked (a stray GRANT → ProtocolError)."""

    def on_start(self) -> None:
        self.asked = False

    def on_request_cs(self) -> None:
        if self.pid == 0:
            self.enter_cs()
        else:
            self.send(0, "REQUEST")

    def on_message(self, msg: Message) -> None:
        if msg.type == "REQUEST":
            for p in self.peers:  # grants to everybody, asked or not
                self.send(p, "GRANT")
        elif msg.type == "GRANT":
            self.enter_cs()


@dataclass(frozen=True)
class Bug:
    algorithm: type[Node]
    config: Config
    caught_by: str  # "explore" | "explore-fairness" | "seeds-causal"
    what_breaks: str


N3 = Config(n=3, requests=1, fifo=False)
N3_FIFO = Config(n=3, requests=1, fifo=True)

ZOO: dict[str, Bug] = {
    "ra-reply-while-in-cs": Bug(RAReplyWhileInCS, N3, "explore", "safety"),
    "ra-drops-deferred": Bug(RADropsDeferred, N3, "explore", "deadlock"),
    "ra-tie-larger-pid": Bug(RATieLargerPid, N3, "explore-fairness", "fairness"),
    "ra-timestamp-only": Bug(RATimestampOnly, N3, "explore", "safety"),
    "ra-off-by-one": Bug(RAOffByOne, N3, "explore", "safety"),
    "ra-current-clock": Bug(RACurrentClock, N3, "explore", "safety"),
    "lamport-non-fifo": Bug(Lamport, N3, "explore", "safety"),
    "lamport-no-acks": Bug(LamportNoAcks, N3_FIFO, "explore", "safety"),
    "lamport-keeps-released": Bug(LamportKeepsReleased, Config(n=2, requests=1), "explore",
                                  "deadlock"),
    "centralized-lifo": Bug(CentralizedLIFO, Config(n=4, requests=3), "seeds-causal",
                            "fairness"),
    "centralized-no-holder": Bug(CentralizedNoHolder, N3_FIFO, "explore", "safety"),
    "centralized-grants-all": Bug(CentralizedDoubleEnter, N3_FIFO, "explore", "error"),
}
