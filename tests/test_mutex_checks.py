"""The checkers catch what they claim, name the events, and stay quiet on correct runs."""

from __future__ import annotations

import pytest
from mutex_zoo import CentralizedLIFO, RAOffByOne, RATieLargerPid

from course.mutex import (
    RicartAgrawala,
    Verdict,
    check_all,
    check_fairness,
    check_liveness,
    check_safety,
    message_counts,
    messages_per_entry,
    metrics,
    waiting_times,
)
from course.sim import Config, Constant, Node, simulate


class Reckless(Node):
    """Enters the moment it asks: no messages at all."""

    def on_request_cs(self) -> None:
        self.enter_cs()


class Mute(Node):
    """Never enters."""


def test_overlap_is_reported_with_the_events_that_caused_it():
    run = simulate(Reckless, Config(n=2, requests=[(0, 0.0), (1, 0.5)], cs_time=2.0), 0)
    v = check_safety(run)
    assert not v and v.processes == (0, 1)
    assert v.events == ("P0.2", "P1.2")  # the two cs-enter events
    assert v.problems == ("P1 entered at t=0.5 (P1.2) while P0 was in the CS (entered at "
                          "t=0 (P0.2), left at t=2 (P0.3))",)
    assert repr(v).startswith("Verdict(safety: P1 entered at t=0.5")


def test_lucky_timing_is_caught_by_happens_before():
    """No overlap in time, but nothing orders the two intervals: other delays would
    overlap them."""
    run = simulate(Reckless, Config(n=2, requests=[(0, 0.0), (1, 5.0)]), 0)
    assert check_safety(run, causal=False)
    v = check_safety(run)
    assert not v and v.events == ("P0.3", "P1.2")
    assert "not ordered by happens-before" in v.problems[0]


@pytest.mark.parametrize("seed", range(3))
def test_ra_off_by_one_fails_safety_in_simulation(seed):
    run = simulate(RAOffByOne, Config(n=3, requests=1, delay=Constant(1.0)), seed)
    assert not check_safety(run), f"seed={seed}"


def test_starving_processes_are_named():
    run = simulate(Mute, Config(n=3, requests=[(2, 1.0), (0, 2.0)]), 0)
    v = check_liveness(run)
    assert v.processes == (2, 0) and v.events == ("P2.1", "P0.1")
    assert "P2 asked at t=1 (P2.1) and never entered" in v.problems[0]
    assert "deadlock" in v.problems[-1]


def test_timestamp_fairness_catches_the_wrong_tie_break():
    cfg = Config(n=3, requests=1, delay=Constant(1.0))  # everybody asks with ts 1
    assert check_fairness(simulate(RicartAgrawala, cfg, 0))
    v = check_fairness(simulate(RATieLargerPid, cfg, 0))
    assert not v and v.processes == (0, 1, 2)
    assert v.problems[0] == ("P1 (request ts 1, pid 1) entered at t=4 (P1.9) after P2 "
                             "(request ts 1, pid 2)")


def test_causal_fairness_catches_the_lifo_coordinator():
    cfg = Config(n=4, requests=3)
    bad = [s for s in range(10) if not check_fairness(simulate(CentralizedLIFO, cfg, s),
                                                      "causal")]
    assert bad, "a stack at the coordinator must overtake an earlier request"
    v = check_fairness(simulate(CentralizedLIFO, cfg, bad[0]), "causal")
    assert "(happens-before) but" in v.problems[0]
    with pytest.raises(ValueError, match="order must be 'timestamp' or 'causal'"):
        check_fairness(simulate(CentralizedLIFO, cfg, 0), "fifo")


def test_lifo_starves_an_early_request_under_load():
    """What a stack really breaks: bounded waiting. P2 holds the CS, P1 then P3 queue up,
    and P2 and P3 ask again the moment they leave. With a FIFO queue P1 is next; with a
    stack the newest request always sits on top of P1's, until P2 and P3 are done."""
    from course.mutex import Centralized

    cfg = Config(n=4, requests=[(2, 0.0), (1, 0.1), (3, 0.2)] + [(2, 0.5), (3, 0.5)] * 6,
                 delay=Constant(1.0))
    fifo, lifo = simulate(Centralized, cfg, 0), simulate(CentralizedLIFO, cfg, 0)

    def overtakes(run):
        (p1,) = [iv for iv in run.intervals if iv.pid == 1]
        return sum(1 for iv in run.entries if iv.pid != 1 and p1.requested < iv.entered
                   < p1.entered)

    assert overtakes(fifo) == 1 and overtakes(lifo) == 14  # LIFO: P1 enters last of 15
    assert check_liveness(lifo)  # finite workload: everybody gets in eventually


def test_metrics_and_message_counts():
    run = simulate(RicartAgrawala, Config(n=3, requests=2, delay=Constant(1.0)), 0)
    assert message_counts(run) == {"REPLY": 12, "REQUEST": 12}
    assert messages_per_entry(run) == {"REPLY": 2.0, "REQUEST": 2.0, "total": 4.0}
    waits = waiting_times(run)
    assert len(waits) == 6 and min(waits) >= 2.0  # a request and a reply at least
    m = metrics(run)
    assert m["entries"] == 6 and m["max waiting"] == max(waits)
    with pytest.raises(ValueError, match="No CS entries in Run"):
        messages_per_entry(simulate(Mute, Config(n=2, requests=0), 0))


def test_verdicts_are_truthy_only_when_ok():
    assert Verdict("x") and not Verdict("x", ("bad",))
    assert str(Verdict("x", ("a", "b", "c", "d"))) == "x: a; b; c (+1 more)"
    run = simulate(RicartAgrawala, Config(n=2), 0)
    assert [str(v) for v in check_all(run, fairness="timestamp")] == [
        "safety: ok", "liveness: ok", "fairness (timestamp): ok"]
