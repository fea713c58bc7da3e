"""Traces: parsing, building, validation errors, JSON/ShiViz round-trips, random traces."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from course import LECTURE_EXAMPLE, Trace, TraceError, random_trace
from tests.strategies import traces


def test_lecture_example_parses():
    t = Trace.parse(LECTURE_EXAMPLE)
    assert t.processes == ("A", "B", "C")
    assert [e.name for e in t.events] == ["a", "b", "c", "d", "e", "f"]
    assert t["b"].kind == "send" and t["b"].message == "m1"
    assert t["c"].kind == "receive" and t["c"].message == "m1"
    assert t["e"].kind == "local"
    assert t.pid("C") == 2
    assert repr(t) == "Trace(3 processes, 6 events, 2 messages)"
    assert repr(t["f"]) == "Event(f?m2 on C#1)"


def test_builder_matches_parser():
    t = Trace(["A", "B", "C"])
    t.local("A", "a")
    t.send("A", "b", "m1")
    t.receive("B", "c", "m1")
    t.send("B", "d", "m2")
    t.local("C", "e")
    t.receive("C", "f", "m2")
    assert t.validate() == Trace.parse(LECTURE_EXAMPLE)


def test_message_in_flight_is_legal():
    t = Trace.parse("A: a!m1 b\nB: c")
    assert t.in_flight() == ["m1"]


def test_comments_and_blank_lines_are_ignored():
    t = Trace.parse("# lecture\n\nA: a b!m1   # sends\nB: c?m1\n")
    assert len(t) == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("A: a\nB: b?m1", "Receive 'b' (line 2) of message 'm1' that is never sent"),
        ("A: a!m1\nB: b?m1\nC: c?m1", "Message 'm1' received twice: by 'b' (line 2) and by 'c'"),
        ("A: a!m1\nB: b!m1", "Message 'm1' sent twice"),
        ("A: a b\nB: a", "Duplicate event name 'a' on process 'B' (line 2); already used on 'A'"),
        ("A: x?m1 y!m1", "Message 'm1' is received by 'x' before it is sent by 'y' on the same"),
        ("A: x?m1 y!m2\nB: z?m2 w!m1", "Cycle: no causal order exists"),
        ("A: a\nA: b", "Line 2: Duplicate process 'A'"),
        ("A a b", "Line 1: expected 'Process: events...'"),
        ("A: a!!m", "Line 1: cannot read event 'a!!m'"),
    ],
)
def test_bad_traces_get_clear_errors(text, needle):
    with pytest.raises(TraceError) as info:
        Trace.parse(text)
    assert needle in str(info.value)


def test_cycle_error_names_the_stuck_receives():
    with pytest.raises(TraceError, match=r"x\?m1 waits for send 'w'.*z\?m2 waits for send 'y'"):
        Trace.parse("A: x?m1 y!m2\nB: z?m2 w!m1")


def test_builder_rejects_unknown_process_and_bad_names():
    t = Trace(["A"])
    with pytest.raises(TraceError, match=r"Unknown process 'Z' for event 'x'"):
        t.local("Z", "x")
    with pytest.raises(TraceError, match="Bad event name 'a b'"):
        t.local("A", "a b")
    with pytest.raises(TraceError, match="Unknown event 'nope'"):
        t.event("nope")


def test_json_errors_are_clear():
    with pytest.raises(TraceError, match="does not parse"):
        Trace.from_json("{not json")
    with pytest.raises(TraceError, match="missing or bad field 'processes'"):
        Trace.from_json("{}")
    with pytest.raises(TraceError, match="a send needs a message"):
        Trace.from_json(json.dumps({"processes": [{"name": "A", "events": [
            {"name": "a", "kind": "send"}]}]}))


def test_shiviz_errors_are_clear():
    with pytest.raises(TraceError, match=r"expected an event line, then a line 'host \{clock\}'"):
        Trace.from_shiviz("a\nA 1\n")
    with pytest.raises(TraceError, match="does not increase"):
        Trace.from_shiviz('a\nA {"A": 1}\nb\nA {"A": 1}\n')


@given(traces())
def test_text_round_trip(t):
    assert Trace.parse(t.to_text()) == t


@given(traces())
def test_json_round_trip(t):
    assert Trace.from_json(t.to_json()) == t


@given(traces())
def test_shiviz_round_trip(t):
    log = t.to_shiviz()
    back = Trace.from_shiviz(log, processes=t.processes)
    assert back == t


def test_shiviz_log_has_the_documented_shape():
    log = Trace.parse(LECTURE_EXAMPLE).to_shiviz().splitlines()
    assert log[0] == r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})"
    assert log[-2:] == ["f?m2", 'C {"A": 2, "B": 2, "C": 2}']


def test_json_keeps_tags_and_times():
    t = Trace(["P"])
    t.local("P", "x", tag="cs-enter", time=1.5)
    back = Trace.from_json(t.to_json())
    assert back["x"].tag == "cs-enter" and back["x"].time == 1.5


@given(traces(max_processes=6, max_events=60))
def test_random_traces_are_valid_and_causal_order_is_topological(t):
    order = t.causal_order()
    assert sorted(e.name for e in order) == sorted(e.name for e in t.events)
    pos = {e.name: i for i, e in enumerate(order)}
    sends = t.sends()
    for m, r in t.receives().items():
        assert pos[sends[m].name] < pos[r.name], m
    for p in t.processes:
        idx = [pos[e.name] for e in t.events_of(p)]
        assert idx == sorted(idx)


def test_random_trace_is_deterministic_in_seed():
    assert random_trace(4, 50, seed=7) == random_trace(4, 50, seed=7)
    assert random_trace(4, 50, seed=7) != random_trace(4, 50, seed=8)


def test_random_trace_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one process, got 0"):
        random_trace(0, 5, seed=1)
    with pytest.raises(ValueError, match="Negative number of events -1"):
        random_trace(2, -1, seed=1)
