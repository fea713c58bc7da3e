"""Happens-before index, concurrency, total order and its checker."""

from __future__ import annotations

import pytest
from hypothesis import given

from course import (
    LECTURE_EXAMPLE,
    HappensBefore,
    Trace,
    TraceError,
    check_total_order,
    concurrent,
    happens_before,
    lamport_timestamps,
    random_trace,
    total_order,
    vector_timestamps,
)
from tests.lamport_zoo import BROKEN_ORDERS
from tests.strategies import brute_force_hb, traces

LECTURE = Trace.parse(LECTURE_EXAMPLE)


def test_lecture_relations():
    assert happens_before(LECTURE, "a", "b")
    assert happens_before(LECTURE, "b", "c")
    assert happens_before(LECTURE, "b", "f")
    assert happens_before(LECTURE, "a", "f")  # transitivity
    assert not happens_before(LECTURE, "f", "a")
    assert concurrent(LECTURE, "a", "e") and concurrent(LECTURE, "e", "d")
    assert not happens_before(LECTURE, "a", "a") and not concurrent(LECTURE, "a", "a")


def test_index_sets():
    hb = HappensBefore(LECTURE)
    assert hb.past("d") == {"a", "b", "c"}
    assert hb.future("b") == {"c", "d", "f"}
    assert hb.concurrent_with("e") == {"a", "b", "c", "d"}
    assert repr(hb) == "HappensBefore(Trace(3 processes, 6 events, 2 messages))"
    with pytest.raises(TraceError, match="Unknown event 'zz'"):
        hb.happens_before("a", "zz")


@given(traces(max_processes=5, max_events=30))
def test_index_matches_brute_force(t):
    hb, rel = HappensBefore(t), brute_force_hb(t)
    names = [e.name for e in t.events]
    for a in names:
        for b in names:
            assert hb.happens_before(a, b) == ((a, b) in rel), (a, b)
            assert hb.concurrent(a, b) == (a != b and (a, b) not in rel and (b, a) not in rel)


@given(traces())
def test_index_vectors_match_vector_clocks(t):
    hb, vts = HappensBefore(t), vector_timestamps(t)
    assert {n: hb.vector(n) for n in vts} == vts


def test_total_order_lecture():
    assert total_order(LECTURE) == ["a", "e", "b", "c", "d", "f"]


def test_total_order_breaks_ties_by_pid_not_name():
    # Processes listed Z, Y, X: pid order differs from alphabetical order.
    t = Trace.parse("Z: z1 z2\nY: y1\nX: x1")
    assert total_order(t) == ["z1", "y1", "x1", "z2"]
    assert check_total_order(t, ["z1", "y1", "x1", "z2"]) == []


@given(traces())
def test_total_order_is_a_checked_linear_extension(t):
    order = total_order(t)
    assert check_total_order(t, order) == []
    pos = {x: i for i, x in enumerate(order)}
    for a, b in brute_force_hb(t):
        assert pos[a] < pos[b]


@pytest.mark.parametrize("name", sorted(BROKEN_ORDERS))
def test_every_broken_order_is_caught(name):
    broken = BROKEN_ORDERS[name]
    caught = []
    for s in range(20):
        t = random_trace(4, 30, seed=s, names=["P3", "P1", "P2", "P0"])
        problems = check_total_order(t, broken(t, lamport_timestamps(t)))
        caught += problems
    assert caught, f"{name} passed check_total_order on 20 random traces"
    assert {p.kind for p in caught} <= {"tie-break", "happens-before", "timestamp"}


def test_total_order_problems_name_events():
    problems = check_total_order(LECTURE, ["e", "a", "b", "c", "d", "f", "f", "zz"])
    kinds = [p.kind for p in problems]
    assert kinds == ["duplicate", "unknown"]
    assert "'zz' is not an event" in str(problems[1])
    problems = check_total_order(LECTURE, ["a", "e", "b", "c", "d"])
    assert [str(p) for p in problems] == ["missing: event 'f' is not in the order"]
    problems = check_total_order(LECTURE, ["e", "a", "b", "d", "c", "f"])
    assert [p.kind for p in problems] == ["happens-before", "tie-break", "timestamp"]
    assert str(problems[0]) == "happens-before: c → d (rule 1: both on B) but d is placed first"
