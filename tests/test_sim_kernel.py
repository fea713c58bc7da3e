"""The timed kernel: determinism, Lamport clocks, the network, crashes, the trace it records."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from course import check_clock_condition, lamport_timestamps
from course.mutex import Centralized, RicartAgrawala
from course.sim import (
    Config,
    Constant,
    Crash,
    Exponential,
    Message,
    Node,
    ProtocolError,
    Uniform,
    simulate,
)


class Gossip(Node):
    """Every process broadcasts at start; on each GOSSIP it answers the sender once."""

    def on_start(self) -> None:
        self.answered: set[int] = set()
        self.broadcast("GOSSIP", self.pid)

    def on_message(self, msg: Message) -> None:
        if msg.type == "GOSSIP" and msg.sender not in self.answered:
            self.answered.add(msg.sender)
            self.send(msg.sender, "ANSWER")


class Stream(Node):
    """P0 sends 30 numbered messages to P1; P1 keeps what arrives, in order."""

    def on_start(self) -> None:
        self.got: list[int] = []
        if self.pid == 0:
            for i in range(30):
                self.send(1, "DATA", i)

    def on_message(self, msg: Message) -> None:
        self.got.append(msg.payload)  # type: ignore[arg-type]


class PingPong(Node):
    """Never stops on its own."""

    def on_start(self) -> None:
        if self.pid == 0:
            self.send(1, "PING")

    def on_message(self, msg: Message) -> None:
        self.send(msg.sender, "PING")


class Alarm(Node):
    def on_start(self) -> None:
        self.fired: list[tuple[str, int]] = []
        self.set_timer(3.0, "late")
        self.set_timer(1.0, "early")

    def on_timer(self, name: str) -> None:
        self.fired.append((name, self.clock))


def test_same_seed_same_run_other_seed_other_run():
    cfg = Config(n=4, requests=2, delay=Exponential(1.0, 0.1))
    for seed in (0, 7, 123):
        a, b = simulate(RicartAgrawala, cfg, seed), simulate(RicartAgrawala, cfg, seed)
        assert a.trace == b.trace, f"seed={seed}"
        assert a.timestamps == b.timestamps and a.intervals == b.intervals, f"seed={seed}"
        assert repr(a) == repr(b)
    assert simulate(RicartAgrawala, cfg, 0).trace != simulate(RicartAgrawala, cfg, 1).trace


def test_no_wall_clock_and_no_global_random(monkeypatch):
    cfg = Config(n=3, requests=2, delay=Uniform(0.5, 3.0), loss=0.05)
    expected = simulate(RicartAgrawala, cfg, 5).trace

    def forbidden(*args, **kwargs):
        raise AssertionError("the simulator must not use this")

    for name in ("random", "uniform", "expovariate", "choice", "shuffle", "randrange"):
        monkeypatch.setattr(random, name, forbidden)
    for name in ("time", "monotonic", "perf_counter"):
        monkeypatch.setattr(time, name, forbidden)
    assert simulate(RicartAgrawala, cfg, 5).trace == expected


def _check_clock_rules(run, seed):
    """Every event ticks its clock by one; a receive takes max(own, msg.ts) + 1; copies of
    one broadcast share the timestamp of the first copy."""
    ts, trace = run.timestamps, run.trace
    sends = trace.sends()
    for p in trace.processes:
        prev = None
        for e in trace.events_of(p):
            before = 0 if prev is None else ts[prev.name]
            if e.kind == "receive":
                want = max(before, ts[sends[e.message].name]) + 1
            elif (e.kind == "send" and prev is not None and prev.kind == "send"
                  and prev.time == e.time and ts[prev.name] == ts[e.name]
                  and prev.tag == e.tag):
                want = before  # another copy of the same broadcast
            else:
                want = before + 1
            assert ts[e.name] == want, f"seed={seed}: {e!r} has ts {ts[e.name]}, want {want}"
            prev = e


@pytest.mark.parametrize("seed", range(5))
def test_lamport_clock_rules_hold_on_every_event(seed):
    run = simulate(RicartAgrawala, Config(n=4, requests=2), seed)
    _check_clock_rules(run, seed)
    # the only clock-condition "violations" are the equal stamps of one broadcast's copies
    for v in check_clock_condition(run.trace, run.timestamps):
        a, b = run.trace[v.earlier], run.trace[v.later]
        assert a.kind == b.kind == "send" and a.process == b.process, f"seed={seed}: {v}"
        assert v.ts_earlier == v.ts_later and a.time == b.time, f"seed={seed}: {v}"


@pytest.mark.parametrize("seed", range(5))
def test_without_broadcasts_the_stamps_are_course_lamport_timestamps(seed):
    run = simulate(Centralized, Config(n=4, requests=3), seed)
    assert run.timestamps == lamport_timestamps(run.trace), f"seed={seed}"
    assert check_clock_condition(run.trace, run.timestamps) == []


def test_message_ts_is_the_send_event_stamp_and_receive_takes_the_max():
    run = simulate(Gossip, Config(n=3, requests=0, delay=Constant(1.0)), 0)
    trace = run.trace
    recv = trace.receives()
    for m, s in trace.sends().items():
        r = recv[m]
        assert run.timestamps[r.name] > run.timestamps[s.name]
        assert r.time == s.time + 1.0  # constant delay
    # a broadcast is one clock tick: both copies of P0's GOSSIP carry ts 1
    first = [e for e in trace.events_of("P0") if e.kind == "send"][:2]
    assert [run.timestamps[e.name] for e in first] == [1, 1]
    assert [e.tag for e in first] == ["GOSSIP", "GOSSIP"]


def test_trace_records_everything_with_times_and_tags():
    run = simulate(RicartAgrawala, Config(n=3, requests=2), 3)
    trace = run.trace
    assert trace.processes == ("P0", "P1", "P2")
    assert all(e.time is not None for e in trace)
    times = [trace[name].time for name in run.order]
    assert times == sorted(times), "execution order must be in simulated time"
    tags = [e.tag for e in trace if e.kind == "local"]
    assert tags.count("cs-request") == tags.count("cs-enter") == tags.count("cs-exit") == 6
    assert {e.tag for e in trace if e.kind != "local"} == {"REQUEST", "REPLY"}
    assert sum(run.messages.values()) == len(trace.sends()) == run.messages_sent
    for iv in run.intervals:
        assert trace[iv.request_event].tag == "cs-request"
        assert trace[iv.enter_event].tag == "cs-enter" and trace[iv.enter_event].time == iv.entered
        assert trace[iv.exit_event].tag == "cs-exit" and trace[iv.exit_event].time == iv.exited
        assert run.timestamps[iv.request_event] == iv.ts
        assert iv.exited - iv.entered == pytest.approx(1.0)


def test_fifo_channels_keep_order_and_non_fifo_ones_need_not():
    wide = Uniform(0.0, 10.0)
    for seed in range(5):
        k = simulate(Stream, Config(n=2, requests=0, delay=wide, fifo=True), seed)
        got = [k.trace[r.name] for r in k.trace.events_of("P1")]
        payload_order = [int(e.message[1:]) for e in got]
        assert payload_order == sorted(payload_order), f"seed={seed}"
    reordered = 0
    for seed in range(5):
        k = simulate(Stream, Config(n=2, requests=0, delay=wide, fifo=False), seed)
        order = [int(e.message[1:]) for e in k.trace.events_of("P1")]
        reordered += order != sorted(order)
    assert reordered == 5


def test_loss_drops_messages():
    none = simulate(Gossip, Config(n=3, requests=0, loss=1.0), 1)
    assert none.delivered == 0 and none.lost == none.messages_sent == 6
    assert len(none.trace.in_flight()) == 6
    some = simulate(RicartAgrawala, Config(n=4, requests=3, loss=0.2), 2)
    assert 0 < some.lost < some.messages_sent
    assert some.delivered + some.lost == some.messages_sent


def test_crash_at_a_time_stops_the_process():
    cfg = Config(n=3, requests=1, crashes=(Crash(1, time=0.5),))
    run = simulate(RicartAgrawala, cfg, 0)
    assert run.crashes == {1: 0.5}
    p1 = run.trace.events_of("P1")
    assert p1[-1].tag == "crash" and p1[-1].time == 0.5
    assert all(e.time <= 0.5 for e in p1)
    sends = run.trace.sends()
    lost = run.trace.in_flight()  # never received: the messages to the dead P1
    assert lost and all(sends[m].process != "P1" for m in lost)
    assert "crashed P1@0.5" in repr(run)


def test_crash_after_an_event_can_cut_a_broadcast_in_half():
    # P0's events: cs-request (1), REQUEST copy to P1 (2) -- crash -- no copy to P2
    run = simulate(RicartAgrawala, Config(n=3, requests=[(0, 0.0)],
                                          crashes=(Crash(0, event=2),)), 0)
    p0 = run.trace.events_of("P0")
    assert [e.tag for e in p0] == ["cs-request", "REQUEST", "crash"]
    assert run.trace.events_of("P2") == ()
    (iv,) = run.intervals
    assert iv.crashed and iv.entered is None


def test_timers_fire_in_time_order():
    run = simulate(Alarm, Config(n=1, requests=0), 0)
    timers = [e for e in run.trace if e.tag == "timer"]
    assert [e.time for e in timers] == [1.0, 3.0]


def test_limits_stop_a_run_that_never_goes_quiet():
    run = simulate(PingPong, Config(n=2, requests=0, max_events=100), 0)
    assert not run.quiescent and run.delivered == 100 and run.messages_sent == 101
    assert "stopped at a limit" in repr(run)
    run = simulate(PingPong, Config(n=2, requests=0, delay=Constant(1.0), max_time=10), 0)
    assert not run.quiescent and run.end_time == 10.0


def test_requests_while_busy_wait_for_idle():
    cfg = Config(n=1, requests=[(0, 0.0), (0, 0.2), (0, 0.4)], cs_time=1.0)
    run = simulate(RicartAgrawala, cfg, 0)
    assert [(iv.requested, iv.entered, iv.exited) for iv in run.intervals] == [
        (0.0, 0.0, 1.0), (1.0, 1.0, 2.0), (2.0, 2.0, 3.0)]


class EnterTwice(Node):
    def on_request_cs(self) -> None:
        self.enter_cs()
        self.enter_cs()


class SelfSend(Node):
    def on_start(self) -> None:
        self.send(self.pid, "HELLO")


class BadTimer(Node):
    def on_start(self) -> None:
        self.set_timer(-1)


class Boom(Node):
    def on_message(self, msg: Message) -> None:
        raise KeyError("oops")

    def on_start(self) -> None:
        if self.pid == 0:
            self.send(1, "X")


@pytest.mark.parametrize("node, error, match", [
    (EnterTwice, ProtocolError, r"P0 called enter_cs\(\) while in CS"),
    (SelfSend, ProtocolError, "P0 cannot send 'HELLO' to 0; peers are"),
    (BadTimer, ValueError, "Negative or non-numeric timer delay -1 set by P0"),
])
def test_api_misuse_is_reported(node, error, match):
    with pytest.raises(error, match=match):
        simulate(node, Config(n=2, requests=[(0, 0.0)]), 0)


def test_handler_errors_say_where_and_when():
    with pytest.raises(KeyError) as info:
        simulate(Boom, Config(n=2, requests=0, delay=Constant(2.5)), 0)
    assert any("P1.on_message(Message(X ts=1 P0→P1)) at time 2.5" in note
               for note in info.value.__notes__)


def test_algorithm_must_make_nodes():
    with pytest.raises(TypeError, match=r"is not a course\.sim\.Node"):
        simulate(dict, Config(), 0)  # type: ignore[arg-type]


def test_reprs_show_state():
    run = simulate(RicartAgrawala, Config(n=2, requests=1), 4)
    assert repr(run).startswith("Run(RicartAgrawala, n=2, seed=4, t=")
    assert "2/2 requests entered, messages REPLY=2 REQUEST=2" in repr(run)
    iv = run.intervals[0]
    assert repr(iv).startswith(f"CSInterval(P{iv.pid} asked at 0 (ts 1), in CS ")
    m = Message("REQUEST", 3, 0, 2)
    assert repr(m) == "Message(REQUEST ts=3 P0→P2)" and hash(m) == hash(Message("REQUEST", 3, 0, 2))
    node = RicartAgrawala()
    node._attach(None, 1, 3)  # type: ignore[arg-type]
    node.on_start()
    assert repr(node) == ("RicartAgrawala(P1: state='released', mine=None, replies=set(), "
                          "deferred=[])")


def test_prefixes_are_consistent_cuts():
    run = simulate(RicartAgrawala, Config(n=3, requests=1), 0)
    for k in itertools.chain(range(0, len(run), 5), [len(run)]):
        t = run.prefix(k).validate()
        assert {e.name for e in t} == set(run.order[:k])
    with pytest.raises(ValueError, match="Prefix length 999"):
        run.prefix(999)


def _built_by_the_checked_builder(run, k):
    """The trace of the first k events through Trace's public, fully checking builder."""
    from course import Trace

    names = run.processes
    t = Trace(names)
    for e, name in zip(run.log[:k], run.order, strict=False):
        p, msg = names[e.pid], f"m{e.mid}"
        if e.kind == "send":
            t.send(p, name, msg, tag=e.tag, time=e.time)
        elif e.kind == "receive":
            t.receive(p, name, msg, tag=e.tag, time=e.time)
        else:
            t.local(p, name, tag=e.tag, time=e.time)
    return t


class Tagged(Node):
    """Timers, payloads and a message type chosen per message."""

    def on_start(self):
        self.set_timer(0.5, "tick")

    def on_timer(self, name):
        self.broadcast(f"HELLO-{self.pid}", payload=[self.pid])

    def on_message(self, msg):
        if msg.sender < self.pid:
            self.send(msg.sender, "ECHO é ✓")


@pytest.mark.parametrize("alg, cfg", [
    (RicartAgrawala, Config(n=3, requests=2)),
    (Tagged, Config(n=4, requests=0, fifo=False)),
    (RicartAgrawala, Config(n=4, requests=2, crashes=(Crash(2, time=2.0),))),
])
def test_the_run_trace_is_what_the_checked_builder_makes(alg, cfg):
    """run.prefix takes the simulator's events in bulk (each distinct tag checked once):
    the same trace as the public builder, which checks every event, for every prefix."""
    run = simulate(alg, cfg, 4)
    for k in itertools.chain(range(0, len(run), 7), [len(run)]):
        assert run.prefix(k) == _built_by_the_checked_builder(run, k), k
    assert run.trace == _built_by_the_checked_builder(run, len(run)).validate()


def test_a_message_type_of_several_lines_is_refused_by_name():
    from course import TraceError

    class Bad(Node):
        def on_start(self):
            if self.pid == 1:
                self.send(0, "A\nB")

        def on_message(self, msg):
            pass

    run = simulate(Bad, Config(n=2, requests=0), 1)
    with pytest.raises(TraceError, match=r"Event 'P1.1': tag 'A\\nB' spans several lines"):
        _ = run.trace


def test_a_run_without_record_refuses_to_be_checked():
    from course.mutex import check_liveness

    run = simulate(RicartAgrawala, Config(n=3, requests=2), 0, record=False)
    assert run.delivered == 24 and "24 deliveries, not recorded" in repr(run)
    with pytest.raises(ValueError, match="record=False"):
        check_liveness(run)
    with pytest.raises(ValueError, match="record=False"):
        run.trace  # noqa: B018


def test_runs_do_not_depend_on_the_hash_seed():
    """Same (algorithm, config, seed) in fresh interpreters with different string-hash
    seeds: the same trace."""
    import os
    import subprocess
    import sys

    code = ("from course.sim import Config, simulate; from course.mutex import Lamport, "
            "RicartAgrawala, Centralized; import hashlib; print([hashlib.sha256(simulate("
            "a, Config(n=4, requests=2, fifo=True), 9).trace.to_json().encode()).hexdigest()"
            " for a in (Lamport, RicartAgrawala, Centralized)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": h}).stdout
            for h in ("1", "2")}
    assert len(outs) == 1, outs


def test_run_log_is_typed_records_in_execution_order():
    from course.mutex import RicartAgrawala
    from course.sim import Config, simulate
    from course.sim._events import EventKind, LogEntry

    run = simulate(RicartAgrawala, Config(n=3), seed=2)
    assert len(run.log) == len(run) == len(run.order)
    assert all(type(e) is LogEntry and type(e.kind) is EventKind for e in run.log)
    sends = [e for e in run.log if e.kind is EventKind.SEND]
    receives = [e for e in run.log if e.kind is EventKind.RECEIVE]
    assert len(sends) == sum(run.messages.values()) == run.messages_sent
    assert sorted(e.mid for e in receives) == sorted(e.mid for e in sends)  # all delivered
    assert [e.time for e in run.log] == sorted(e.time for e in run.log)
    assert {name: e.ts for name, e in zip(run.order, run.log, strict=True)} == run.timestamps
