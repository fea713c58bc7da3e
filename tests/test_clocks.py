"""Clocks follow the lecture's rules; the checkers catch every clock in the bug zoo."""

from __future__ import annotations

import pytest
from hypothesis import given

from course import (
    LECTURE_EXAMPLE,
    LamportClock,
    PhysicalClock,
    Trace,
    VectorClock,
    check_clock_condition,
    lamport_timestamps,
    physical_timestamps,
    random_trace,
    vector_timestamps,
)
from tests.lamport_zoo import BROKEN_CLOCKS
from tests.strategies import brute_force_hb, traces

LECTURE = Trace.parse(LECTURE_EXAMPLE)


def test_lamport_clock_rules():
    c = LamportClock()
    assert c.time == 0
    assert c.tick() == 1
    assert c.send() == 2
    assert c.receive(7) == 8  # max(2, 7) + 1
    assert c.receive(3) == 9  # max(8, 3) + 1
    assert repr(c) == "LamportClock(time=9)"


def test_lamport_clock_rejects_bad_input():
    with pytest.raises(TypeError, match="must be an int, got '3'"):
        LamportClock().receive("3")
    with pytest.raises(ValueError, match="non-negative int, got -1"):
        LamportClock(-1)


def test_vector_clock_rules():
    c = VectorClock(1, 3)
    assert c.tick() == (0, 1, 0)
    assert c.receive((2, 0, 5)) == (2, 2, 5)
    assert c.send() == (2, 3, 5)
    with pytest.raises(ValueError, match="has 2 entries, expected 3"):
        c.receive((1, 1))
    assert repr(c) == "VectorClock(pid=1, vector=(2, 3, 5))"


def test_lecture_timestamps():
    assert lamport_timestamps(LECTURE) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 1, "f": 5}
    assert vector_timestamps(LECTURE)["f"] == (2, 2, 2)
    assert vector_timestamps(LECTURE)["e"] == (0, 0, 1)


@given(traces())
def test_lamport_satisfies_clock_condition(t):
    assert check_clock_condition(t, lamport_timestamps(t)) == []


@given(traces(max_processes=4, max_events=25))
def test_vector_clocks_characterize_happens_before(t):
    vts = vector_timestamps(t)
    hb = brute_force_hb(t)
    for a in vts:
        for b in vts:
            less = a != b and all(x <= y for x, y in zip(vts[a], vts[b], strict=True))
            assert less == ((a, b) in hb), (a, b, vts[a], vts[b])


@pytest.mark.parametrize("name", sorted(BROKEN_CLOCKS))
def test_every_broken_clock_is_caught(name):
    broken = BROKEN_CLOCKS[name]
    caught = [s for s in range(30)
              if check_clock_condition(t := random_trace(4, 40, seed=s), broken(t))]
    assert caught, f"{name} passed the clock condition on 30 random traces"


def test_violation_explains_the_pair():
    ts = BROKEN_CLOCKS["no_plus_one_on_receive"](LECTURE)
    v, w = check_clock_condition(LECTURE, ts)
    assert (w.earlier, w.later, w.ts_earlier, w.ts_later) == ("d", "f", 3, 3)
    assert (v.earlier, v.later, v.ts_earlier, v.ts_later) == ("b", "c", 2, 2)
    assert str(v) == "b → c (rule 2: message m1) but TS(b) = 2 is not < TS(c) = 2"


@pytest.mark.parametrize(
    ("ts", "exc", "needle"),
    [
        ({"a": 1}, ValueError, "Timestamps missing for events ['b', 'c', 'd', 'e', 'f']"),
        ({**dict.fromkeys("abcdef", 1), "z": 3}, ValueError, "not in the trace: ['z']"),
        ({**dict.fromkeys("abcde", 1), "f": 2.5}, TypeError, "Timestamp of 'f' must be an int"),
        ({**dict.fromkeys("abcde", 1), "f": True}, TypeError, "Timestamp of 'f' must be an int"),
        ([1, 2, 3], TypeError, "must be a mapping"),
    ],
)
def test_clock_condition_rejects_bad_mappings(ts, exc, needle):
    with pytest.raises(exc) as info:
        check_clock_condition(LECTURE, ts)
    assert needle in str(info.value)


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    ts = {k: np.int64(v) for k, v in lamport_timestamps(LECTURE).items()}
    assert check_clock_condition(LECTURE, ts) == []


def test_physical_clock_reading():
    c = PhysicalClock(offset=0.002, drift=1e-4, resolution=1e-3)
    assert c.read(10.0) == pytest.approx(10.003)
    assert "drift=+100.0ppm" in repr(c)
    assert PhysicalClock.random(3) == PhysicalClock.random(3)
    with pytest.raises(ValueError, match="Non-positive resolution 0"):
        PhysicalClock(resolution=0)


def test_physical_clocks_reproduce_the_lecture_paradox():
    # A's clock runs ahead, B's behind: B answers *after* A's message arrived, yet its
    # reply is stamped earlier, as on the lecture slide (.123 then .122).
    t = Trace(["A", "B"])
    t.send("A", "send", "m1", time=36000.1225)
    t.receive("B", "recv", "m1", time=36000.1228)
    t.send("B", "reply", "m2", time=36000.1230)
    t.receive("A", "got", "m2", time=36000.1236)
    clocks = {"A": PhysicalClock(offset=0.0008), "B": PhysicalClock(offset=-0.0008)}
    ts = physical_timestamps(t, clocks)
    assert round(ts["send"] % 1, 3) == 0.123 and round(ts["reply"] % 1, 3) == 0.122
    assert ts["reply"] < ts["send"]  # a later event stamped earlier
    assert check_clock_condition(t, lamport_timestamps(t)) == []


def test_physical_timestamps_need_times():
    with pytest.raises(ValueError, match=r"Event\(a on A#0\) has no true time"):
        physical_timestamps(LECTURE, {p: PhysicalClock() for p in LECTURE.processes})
