"""The reference algorithms on random scenarios: safe, live, fair, exact message counts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course.mutex import (
    Centralized,
    Lamport,
    RicartAgrawala,
    check_fairness,
    check_liveness,
    check_safety,
    messages_per_entry,
    metrics,
    sync_delays,
)
from course.sim import Config, Constant, Crash, Exponential, Uniform, simulate

ALGS = [Centralized, Lamport, RicartAgrawala]


@st.composite
def scenarios(draw, fifo: bool | None = None):
    n = draw(st.integers(1, 5))
    reqs = draw(st.lists(st.tuples(st.integers(0, n - 1),
                                   st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 2))),
                         min_size=1, max_size=10))
    delay = draw(st.sampled_from([Constant(1.0), Uniform(0.1, 3.0), Uniform(0.0, 0.0),
                                  Exponential(1.0, 0.05)]))
    cs = draw(st.sampled_from([Constant(0.0), Constant(1.0), Uniform(0.5, 2.0)]))
    fifo = draw(st.booleans()) if fifo is None else fifo
    seed = draw(st.integers(0, 2**32 - 1))
    return Config(n=n, requests=tuple(reqs), delay=delay, cs_time=cs, fifo=fifo), seed


def _check(run, cfg, seed, *orders):
    where = f"seed={seed}, {cfg!r}"
    for verdict in (check_safety(run), check_liveness(run),
                    *(check_fairness(run, o) for o in orders)):
        assert verdict, f"{where}: {verdict}"
    assert run.quiescent, where
    assert len(run.entries) == len(cfg.requests), where


@settings(max_examples=40)
@given(scenarios())
def test_centralized_is_safe_live_and_serves_in_causal_order(scenario):
    cfg, seed = scenario
    _check(simulate(Centralized, cfg, seed), cfg, seed, *(("causal",) if cfg.fifo else ()))


@settings(max_examples=40)
@given(scenarios(fifo=True))
def test_lamport_is_safe_live_and_fair_on_fifo_channels(scenario):
    cfg, seed = scenario
    _check(simulate(Lamport, cfg, seed), cfg, seed, "timestamp", "causal")


@settings(max_examples=40)
@given(scenarios())
def test_ricart_agrawala_is_safe_live_and_fair_on_any_channels(scenario):
    cfg, seed = scenario
    _check(simulate(RicartAgrawala, cfg, seed), cfg, seed, "timestamp", "causal")


@settings(max_examples=30)
@given(scenarios(fifo=True))
def test_message_counts_per_entry_are_exact(scenario):
    cfg, seed = scenario
    n = cfg.n
    where = f"seed={seed}, {cfg!r}"
    lam = simulate(Lamport, cfg, seed)
    assert lam.messages == {t: (n - 1) * len(lam.entries) for t in ("REQUEST", "REPLY",
                                                                     "RELEASE")
                            if n > 1}, where
    ra = simulate(RicartAgrawala, cfg, seed)
    assert ra.messages == {t: (n - 1) * len(ra.entries) for t in ("REQUEST", "REPLY")
                           if n > 1}, where
    if n > 1:
        assert messages_per_entry(lam)["total"] == 3 * (n - 1), where
        assert messages_per_entry(ra)["total"] == 2 * (n - 1), where
    cen = simulate(Centralized, cfg, seed)
    clients = sum(iv.pid != 0 for iv in cen.entries)
    assert cen.messages == {t: clients for t in ("REQUEST", "GRANT", "RELEASE") if clients}, where


@pytest.mark.parametrize("n", [2, 3, 6])
def test_three_messages_for_a_non_coordinator_entry(n):
    cfg = Config(n=n, requests=[(p, 0.0) for p in range(1, n)] * 2)
    run = simulate(Centralized, cfg, 11)
    assert messages_per_entry(run) == {"GRANT": 1.0, "RELEASE": 1.0, "REQUEST": 1.0,
                                       "total": 3.0}


@pytest.mark.parametrize("algorithm, delays", [(Centralized, 2.0), (Lamport, 1.0),
                                               (RicartAgrawala, 1.0)])
def test_synchronization_delay_in_message_delays(algorithm, delays):
    """With constant delay d and everyone waiting: 2d for the coordinator (RELEASE then
    GRANT), d for the distributed algorithms (RELEASE or the deferred REPLY)."""
    cfg = Config(n=4, requests=[(p, 0.0) for p in (1, 2, 3)] * 2, delay=Constant(0.75))
    run = simulate(algorithm, cfg, 0)
    gaps = sync_delays(run)
    assert len(gaps) == 5
    assert gaps == pytest.approx([delays * 0.75] * 5)
    m = metrics(run)
    assert m["entries"] == 6 and m["mean sync delay"] == pytest.approx(delays * 0.75)


def test_coordinator_crash_blocks_everybody_and_liveness_says_who_starves():
    cfg = Config(n=4, requests=[(1, 0.0), (2, 0.0), (3, 0.0), (1, 6.0)],
                 delay=Constant(1.0), crashes=(Crash(0, time=2.5),))
    run = simulate(Centralized, cfg, 0)
    assert check_safety(run)
    verdict = check_liveness(run)
    assert not verdict
    assert len(run.entries) == 1 and run.entries[0].pid == 1  # the grant before the crash
    assert set(verdict.processes) == {1, 2, 3} and len(verdict.problems) == 3
    assert "crashed: P0 at t=2.5" in str(verdict) and "deadlock" in str(verdict)


@pytest.mark.parametrize("algorithm", [Lamport, RicartAgrawala])
def test_a_crashed_peer_blocks_the_distributed_algorithms_too(algorithm):
    cfg = Config(n=3, requests=[(0, 5.0), (1, 5.0)], crashes=(Crash(2, time=1.0),))
    run = simulate(algorithm, cfg, 3)
    verdict = check_liveness(run)
    assert not verdict and set(verdict.processes) == {0, 1}, verdict
    assert run.entries == ()  # nobody gets P2's reply


def test_a_process_that_crashes_itself_is_excused():
    cfg = Config(n=3, requests=[(0, 0.0), (1, 0.0)], crashes=(Crash(1, event=1),))
    run = simulate(Centralized, cfg, 0)
    assert run.intervals[1].crashed and check_liveness(run)
