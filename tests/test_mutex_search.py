"""The explorer's two searches and its state graph, against each other and an oracle.

* The state graph has exactly the states the step machine reaches by brute force
  (deep copies of a ``StepKernel``), for references and for random programs that send in
  ``on_start``, set timers, crash and raise.
* The numpy search (``engine="numpy"``, the default) and the reference search agree on
  everything a result holds: states, transitions, exhausted, and each violation with its
  schedule, also when the state budget stops them midway.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutex_zoo import ZOO
from strategies import naive_state_count, random_node_class

from course.mutex import Centralized, Lamport, RicartAgrawala, explore
from course.sim import Config, Crash, Node


def _same(alg, cfg, **kw) -> None:
    a = explore(alg, cfg, engine="numpy", **kw)
    b = explore(alg, cfg, engine="reference", **kw)
    got = (a.states, a.transitions, a.exhausted,
           [(v.kind, v.violation, v.schedule) for v in a.violations])
    want = (b.states, b.transitions, b.exhausted,
            [(v.kind, v.violation, v.schedule) for v in b.violations])
    assert got == want, f"{alg.__name__} {cfg!r} {kw}:\nnumpy     {a}\nreference {b}"


class PingOnStart(Node):
    """Sends in on_start: the first states have messages in flight."""

    def on_start(self) -> None:
        self.got = 0
        if self.pid == 0:
            self.broadcast("PING")

    def on_message(self, msg) -> None:
        self.got += 1
        if self.got == 1 and self.pid == 1:
            self.send(0, "PONG")


def test_messages_sent_in_on_start_are_explored():
    e = explore(PingOnStart, Config(n=3, requests=0))
    assert e.ok and e.states == naive_state_count(PingOnStart, Config(n=3, requests=0))
    assert e.states == 6  # {}, one PING delivered (2 ways), PONG before/after the 2nd, none


@pytest.mark.parametrize("alg, cfg", [
    (RicartAgrawala, Config(n=2, requests=2, fifo=False)),
    (Lamport, Config(n=3, requests=[(0, 0), (1, 0)])),
    (Centralized, Config(n=3, requests=1, crashes=(Crash(0, time=1.0),))),
    (PingOnStart, Config(n=3, requests=1, fifo=False)),
])
def test_the_graph_has_the_states_of_brute_force(alg, cfg):
    e = explore(alg, cfg)
    assert e.exhausted
    assert e.states == naive_state_count(alg, cfg)


@pytest.mark.parametrize("seed", range(12))
def test_random_programs_have_the_states_of_brute_force(seed):
    alg = random_node_class(seed)
    cfg = Config(n=3, requests=[(seed % 3, 0)], fifo=seed % 2 == 0,
                 crashes=(Crash(1, time=1.0),) if seed % 4 == 1 else ())
    e = explore(alg, cfg, deadlock=False)
    assert e.states == naive_state_count(alg, cfg) or not e.exhausted or e.violations


@pytest.mark.parametrize("name", sorted(n for n, b in ZOO.items()
                                         if b.caught_by.startswith("explore")))
def test_the_searches_agree_on_the_zoo(name):
    bug = ZOO[name]
    _same(bug.algorithm, bug.config, fairness=True)
    _same(bug.algorithm, bug.config, fairness=False, more_states=50)


@pytest.mark.parametrize("alg, cfg, kw", [
    (RicartAgrawala, Config(n=3, requests=1, fifo=False), {"fairness": True}),
    (Lamport, Config(n=3, requests=[(0, 0), (2, 0)]), {"fairness": True}),
    (Centralized, Config(n=3, requests=2), {"fairness": True}),  # arrival order
    (Centralized, Config(n=4, requests=1, crashes=(Crash(2, time=1.0),)), {}),
    (RicartAgrawala, Config(n=3, requests=2, fifo=False), {"max_states": 7_777}),
])
def test_the_searches_agree_on_references(alg, cfg, kw):
    _same(alg, cfg, **kw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(2, 3), fifo=st.booleans(),
       fairness=st.sampled_from([False, "timestamp", "arrival"]),
       crash=st.booleans(), requests=st.integers(0, 2),
       max_states=st.sampled_from([40, 300, 2_000_000]),
       more=st.sampled_from([0, 5, 100_000]))
def test_the_searches_agree_on_random_programs(seed, n, fifo, fairness, crash, requests,
                                                max_states, more):
    cfg = Config(n=n, requests=requests, fifo=fifo,
                 crashes=(Crash(n - 1, time=1.0),) if crash else ())
    _same(random_node_class(seed), cfg, fairness=fairness, max_states=max_states,
          more_states=more)


@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_tiny_chunks_give_the_same_search(chunk, monkeypatch):
    """The numpy search expands a level in chunks of parents (32,768 in use); with chunks of
    one or a few parents most of them find no new state and the violations come from
    different chunks: nothing may change (a chunk with no new state once crashed it)."""
    from course.mutex import _vsearch

    monkeypatch.setattr(_vsearch, "CHUNK", chunk)
    _same(RicartAgrawala, Config(n=2, requests=2, fifo=False), fairness=True)
    bug = ZOO["ra-tie-larger-pid"]
    _same(bug.algorithm, bug.config, fairness=True, more_states=300)
    _same(random_node_class(7), Config(n=3, requests=1, crashes=(Crash(2, time=1.0),)),
          fairness="arrival", max_states=500)
