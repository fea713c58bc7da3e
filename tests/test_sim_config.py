"""Config, delay distributions and crashes: validation, normalisation, readable reprs."""

from __future__ import annotations

import random

import pytest

from course.sim import Config, Constant, Crash, Exponential, Uniform


def test_requests_int_means_every_process_k_times_at_zero():
    cfg = Config(n=3, requests=2)
    assert cfg.requests == ((0, 0.0), (1, 0.0), (2, 0.0)) * 2
    assert cfg.requests_per_process() == (2, 2, 2)


def test_request_pairs_are_sorted_by_time_stably():
    cfg = Config(n=3, requests=[(2, 5), (0, 1.5), (1, 5), (0, 0)])
    assert cfg.requests == ((0, 0.0), (0, 1.5), (2, 5.0), (1, 5.0))
    assert cfg.requests_per_process() == (2, 1, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "at least one process"),
    ({"requests": -1}, "Negative number of requests"),
    ({"requests": [(3, 0.0)]}, r"Bad request \(3, 0.0\)"),
    ({"requests": [(0, -1.0)]}, r"Bad request \(0, -1.0\)"),
    ({"loss": 1.5}, "Loss probability 1.5"),
    ({"crashes": (Crash(7, time=1.0),)}, r"Crash\(P7, time=1\): no process P7"),
    ({"crashes": (Crash(0, time=1.0), Crash(0, event=3))}, "More than one crash"),
    ({"max_time": 0}, "max_time must be positive"),
    ({"max_events": 0}, "max_events must be a positive int"),
])
def test_bad_configs_name_the_offender(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Config(**kwargs)


def test_numbers_become_constant_distributions_and_junk_is_refused():
    cfg = Config(delay=2, cs_time=0.5)
    assert cfg.delay == Constant(2.0) and cfg.cs_time == Constant(0.5)
    with pytest.raises(TypeError, match=r"delay must be a number or have \.sample"):
        Config(delay="fast")
    with pytest.raises(TypeError, match="cs_time must be a number"):
        Config(cs_time=True)


@pytest.mark.parametrize("bad, match", [
    (lambda: Constant(-1), "Negative or non-numeric delay -1"),
    (lambda: Uniform(2, 1), "low=2, high=1"),
    (lambda: Exponential(0), "mean=0"),
    (lambda: Crash(0), "exactly one of time= and event="),
    (lambda: Crash(0, time=1.0, event=2), "exactly one"),
    (lambda: Crash(0, event=0), "Crash event must be an int >= 1"),
])
def test_bad_distributions_and_crashes(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_distributions_draw_from_the_given_rng_only():
    for dist, lo, hi in ((Constant(1.5), 1.5, 1.5), (Uniform(1, 3), 1, 3),
                         (Exponential(2.0, minimum=0.5), 0.5, float("inf"))):
        a = [dist.sample(random.Random(4)) for _ in range(3)]
        b = [dist.sample(random.Random(4)) for _ in range(3)]
        assert a == b
        assert all(lo <= x <= hi for x in a), (dist, a)
    xs = [Uniform(0, 1).sample(r) for r in [random.Random(9)] for _ in range(2000)]
    assert 0.45 < sum(xs) / len(xs) < 0.55


def test_config_is_hashable_and_reads_well():
    cfg = Config(n=4, requests=[(1, 0), (1, 2), (2, 0)], fifo=False, loss=0.1,
                 crashes=(Crash(0, time=3.0),), max_time=50)
    assert hash(cfg) == hash(Config(n=4, requests=[(1, 0), (1, 2), (2, 0)], fifo=False,
                                    loss=0.1, crashes=(Crash(0, time=3.0),), max_time=50))
    text = repr(cfg)
    for part in ("n=4", "requests=0/2/1/0", "non-FIFO", "loss=0.1", "Crash(P0, time=3)",
                 "max_time=50", "Uniform(1, 2)"):
        assert part in text, text
    assert repr(Crash(2, event=5)) == "Crash(P2, event=5)"
    assert repr(Exponential(2, 0.5)) == "Exponential(mean=2, minimum=0.5)"
