"""The step machine: enabled steps, replay, and the per-process snapshots the explorer uses."""

from __future__ import annotations

import copy
from collections import deque

import pytest

from course.mutex import Centralized, Lamport, RicartAgrawala, explore
from course.sim import Config, Crash, Message, Node, Step, StepKernel, replay


def test_initial_steps_are_the_requests():
    k = StepKernel(RicartAgrawala, Config(n=3, requests=1))
    assert k.enabled() == [Step("request", 0), Step("request", 1), Step("request", 2)]
    assert repr(k.enabled()[0]) == "request P0"


def test_fifo_offers_only_channel_heads_non_fifo_every_distinct_message():
    for fifo, expected in ((True, 1), (False, 2)):
        k = StepKernel(Lamport, Config(n=2, requests=1, fifo=fifo))
        k.apply(Step("request", 0))  # REQUEST P0→P1 in flight
        k.apply(Step("deliver", 1, Message("REQUEST", 2, 0, 1)))  # P1 replies
        k.apply(Step("request", 1))  # P1 also asks: P1→P0 holds REPLY then REQUEST
        delivers = [s for s in k.enabled() if s.kind == "deliver"]
        assert len(delivers) == expected, f"fifo={fifo}: {delivers}"
        assert delivers[0].message.type == "REPLY"


def test_replay_records_a_trace_with_step_times():
    cfg = Config(n=2, requests=1)
    sched = [Step("request", 0), Step("deliver", 1, Message("REQUEST", 2, 0, 1)),
             Step("deliver", 0, Message("REPLY", 4, 1, 0)), Step("exit", 0)]
    run = replay(RicartAgrawala, cfg, sched)
    assert run.schedule == tuple(sched) and run.seed is None
    assert [(iv.pid, iv.entered, iv.exited) for iv in run.intervals] == [(0, 3.0, 4.0)]
    assert [e.time for e in run.trace.events_of("P0")] == [1.0, 1.0, 3.0, 3.0, 4.0]
    assert run.trace.events_of("P0")[2].tag == "REPLY"
    assert not run.quiescent and "more steps possible" in repr(run)  # P1 may still ask
    assert "4 steps" in repr(run)


def test_replay_refuses_a_step_that_is_not_enabled():
    with pytest.raises(ValueError, match=r"Step 0 \(exit P0\) is not enabled; enabled: "
                                         r"\[request P0, request P1\]"):
        replay(RicartAgrawala, Config(n=2, requests=1), [Step("exit", 0)])


class Grabby(Node):
    def on_request_cs(self) -> None:
        self.enter_cs()
        self.enter_cs()


def test_replay_keeps_a_handler_error_in_the_run():
    run = replay(Grabby, Config(n=1, requests=1), [Step("request", 0)])
    assert run.error is not None and "ProtocolError: P0 called enter_cs()" in run.error
    assert "error: ProtocolError" in repr(run)


def test_time_crashes_are_steps_event_crashes_happen_exactly():
    k = StepKernel(Centralized, Config(n=3, requests=1, crashes=(Crash(0, time=5.0),)))
    assert Step("crash", 0) in k.enabled()
    k.apply(Step("crash", 0))
    assert Step("crash", 0) not in k.enabled() and Step("request", 0) not in k.enabled()
    k = StepKernel(RicartAgrawala, Config(n=3, requests=1, crashes=(Crash(1, event=2),)))
    k.apply(Step("request", 1))  # cs-request, first REQUEST copy, crash
    assert k.crashed[1] and [m.dest for m in k.inflight] == [0]


def _naive_state_count(algorithm, config) -> int:
    """Breadth-first search with whole-kernel deep copies and full re-hashing: no sharing
    of per-process snapshots, an independent check of save()/load()."""
    k0 = StepKernel(algorithm, config)
    seen = {k0.save().key}
    todo = deque([k0])
    while todo:
        k = todo.popleft()
        for step in k.enabled():
            k2 = copy.deepcopy(k)
            k2.apply(step)
            key = k2.save().key
            if key not in seen:
                seen.add(key)
                todo.append(k2)
    return len(seen)


@pytest.mark.parametrize("algorithm, config", [
    (RicartAgrawala, Config(n=2, requests=2, fifo=False)),
    (Lamport, Config(n=2, requests=2)),
    (Centralized, Config(n=3, requests=1)),
])
def test_incremental_snapshots_reach_the_same_states_as_deep_copies(algorithm, config):
    assert explore(algorithm, config).states == _naive_state_count(algorithm, config)


class Hoarder(Node):
    def on_start(self) -> None:
        self.junk = [{1, 2}]  # a list holding a set: copied and frozen recursively
        self.bad = None

    def on_request_cs(self) -> None:
        self.junk.append({3})
        self.bad = [[]] if self.pid else None
        self.enter_cs()


def test_state_freezing_handles_nesting_and_names_unhashable_values():
    k = StepKernel(Hoarder, Config(n=2, requests=1))
    root = k.save()
    k.load(root, 0)
    k.apply(Step("request", 0))
    s0 = k.save(root, 0)
    assert s0.key != root.key and root.nodes[0]["junk"] == [{1, 2}]  # parent untouched

    class Unhashable(Node):
        def on_start(self) -> None:
            self.thing = bytearray(b"x")

    with pytest.raises(TypeError, match=r"Node state P0.thing holds unhashable "
                                        r"bytearray\(b'x'\)"):
        StepKernel(Unhashable, Config(n=1, requests=0)).save()
