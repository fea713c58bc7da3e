"""Hypothesis strategies and brute-force oracles shared by the foundation tests."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from course import Trace, random_trace


@st.composite
def traces(draw, max_processes: int = 5, max_events: int = 30) -> Trace:
    """Random valid traces (seeded generator, so a failure prints a replayable seed)."""
    n = draw(st.integers(1, max_processes))
    k = draw(st.integers(0, max_events))
    seed = draw(st.integers(0, 2**32 - 1))
    p_send = draw(st.sampled_from([0.2, 0.4, 0.7]))
    return random_trace(n, k, seed=seed, p_send=p_send)


def brute_force_hb(trace: Trace) -> set[tuple[str, str]]:
    """Happens-before by the three rules, literally: rule 1 and 2 edges, then transitive
    closure by DFS from every event."""
    succ: dict[str, list[str]] = {e.name: [] for e in trace.events}
    for p in trace.processes:
        evs = trace.events_of(p)
        for x, y in itertools.pairwise(evs):
            succ[x.name].append(y.name)
    sends = trace.sends()
    for m, r in trace.receives().items():
        succ[sends[m].name].append(r.name)
    rel: set[tuple[str, str]] = set()
    for start in succ:
        stack, seen = list(succ[start]), set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            rel.add((start, x))
            stack.extend(succ[x])
    return rel


def random_node_class(seed: int, sends: int = 2, timers: int = 1) -> type:
    """A deterministic 'student' algorithm drawn from ``seed``: every handler hashes the
    node's history (and the message's type, sender and timestamp) and, by the hash's
    bits, sends up to ``sends`` messages in all, sets up to ``timers`` timers, enters the
    CS when waiting, now and then enters when it may not (a ProtocolError), and may send
    already in ``on_start``. Finite: every event costs budget, so every schedule ends."""
    import zlib

    from course.sim import Node

    class Drawn(Node):
        def on_start(self) -> None:
            self.left, self.timers_left, self.waiting, self.seen = sends, timers, False, ()
            self.act("start")

        def on_request_cs(self) -> None:
            self.waiting = True
            self.act("request")

        def on_message(self, msg) -> None:
            self.seen = (*self.seen[-1:], (msg.type, msg.sender, msg.ts % 3))
            self.act("message")

        def on_timer(self, name: str) -> None:
            self.act(f"timer {name}")

        def on_exit_cs(self) -> None:
            self.act("exit")

        def act(self, why: str) -> None:
            h = zlib.crc32(repr((seed, self.pid, why, self.seen, self.left)).encode())
            if self.left and h & 3:
                self.left -= 1
                to = self.peers[(h >> 2) % len(self.peers)]
                kind = "AB"[(h >> 5) & 1]
                if (h >> 6) & 1 and self.left:
                    self.left -= 1
                    self.broadcast(kind)
                else:
                    self.send(to, kind)
            if self.timers_left and (h >> 7) & 7 == 0:
                self.timers_left -= 1
                self.set_timer(1.0, f"t{self.timers_left}")
            if self.waiting and ((h >> 10) & 3) != 0 and why != "start":
                self.waiting = False
                self.enter_cs()
            elif (h >> 12) % 61 == 0 and why == "message":
                self.enter_cs()  # a ProtocolError unless waiting

    Drawn.__name__ = Drawn.__qualname__ = f"Drawn{seed}"
    return Drawn


def naive_state_count(algorithm, config, limit: int = 20_000) -> int:
    """Reachable states by the step machine itself: breadth first over deep copies of a
    ``StepKernel``, keyed by every node's canonical attributes and the kernel's own state
    key. An oracle for the explorer's state graph (slow: small cases only)."""
    import copy
    from collections import deque

    from course.sim import StepKernel
    from course.sim._steps import node_key

    def key(k):
        return (tuple(None if k.crashed[p] else node_key(vars(node), p)
                      for p, node in enumerate(k.nodes)), k._kernel_key())

    k0 = StepKernel(algorithm, config, fairness=False)
    seen = {key(k0)}
    todo = deque([k0])
    while todo:
        k = todo.popleft()
        for step in k.enabled():
            k2 = copy.deepcopy(k)
            try:
                k2.apply(step)
            except Exception:  # a failing step has no successor state
                continue
            kk = key(k2)
            if kk not in seen:
                seen.add(kk)
                todo.append(k2)
                if len(seen) > limit:
                    raise AssertionError(f"more than {limit} states")
    return len(seen)
