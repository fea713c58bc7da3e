"""Exhaustive search: the references survive every schedule, every zoo bug is caught, and a
counterexample is shortest, replayable and drawable."""

from __future__ import annotations

import copy

import pytest
from matplotlib.collections import PathCollection
from mutex_zoo import ZOO, RAOffByOne

from course.mutex import (
    Centralized,
    Lamport,
    RicartAgrawala,
    check_fairness,
    check_liveness,
    check_safety,
    check_seeds,
    draw_run,
    explore,
)
from course.sim import Config, Crash, StepKernel


@pytest.mark.parametrize("algorithm, config", [
    (RicartAgrawala, Config(n=3, requests=1, fifo=False)),
    (RicartAgrawala, Config(n=2, requests=2, fifo=False)),
    (Lamport, Config(n=3, requests=[(0, 0), (1, 0)])),
    (Lamport, Config(n=2, requests=2)),
    (Centralized, Config(n=3, requests=2)),
    (Centralized, Config(n=4, requests=1, fifo=False)),
])
def test_reference_algorithms_survive_every_schedule(algorithm, config):
    e = explore(algorithm, config, fairness=algorithm is not Centralized)
    assert e.ok and e.exhausted and e.violation is None, str(e)
    assert e.states > 100 and e.transitions >= e.states - 1
    assert "space exhausted" in repr(e) and f"{e.states:,} states" in repr(e)


def test_the_search_is_deterministic():
    cfg = Config(n=3, requests=1, fifo=True)
    a, b = explore(RicartAgrawala, cfg), explore(RicartAgrawala, cfg)
    assert (a.states, a.transitions) == (b.states, b.transitions)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_bug_is_caught(name):
    bug = ZOO[name]
    if bug.caught_by.startswith("explore"):
        e = explore(bug.algorithm, bug.config, fairness=bug.caught_by == "explore-fairness")
        kinds = [v.kind for v in e.violations]
        assert not e and bug.what_breaks in kinds, f"{name}: {e}"
        assert kinds == sorted(kinds, key=["safety", "error", "deadlock", "fairness"].index)
        assert e.kind == kinds[0]
        v = e.violations[kinds.index(bug.what_breaks)]
        run = e.replay(v.kind)  # the counterexample, recorded
        assert run.schedule == v.schedule
        verdict = {"safety": check_safety(run), "deadlock": check_liveness(run),
                   "fairness": check_fairness(run), "error": None}[v.kind]
        if verdict is None:
            assert run.error and v.violation in run.error, f"{name}: {run!r}"
        else:
            assert not verdict, f"{name}: the replayed run must show it: {run!r}"
        if v.kind == "deadlock":
            assert run.quiescent, name
    else:
        sweep = check_seeds(bug.algorithm, bug.config, range(50), checks=(
            check_safety, check_liveness, lambda r: check_fairness(r, "causal")))
        assert not sweep, f"{name}: {sweep!r}"
        assert not check_fairness(sweep.run, "causal"), f"seed={sweep.failing_seed}"


def test_references_pass_the_same_seed_sweep():
    for alg in (Centralized, Lamport, RicartAgrawala):
        sweep = check_seeds(alg, Config(n=4, requests=3), range(25), checks=(
            check_safety, check_liveness, lambda r: check_fairness(r, "causal")))
        assert sweep and sweep.seeds_run == 25, repr(sweep)
        assert repr(sweep) == f"SeedSweep({alg.__name__}: 25 seeds, all checks hold)"


def _violates_within(algorithm, config, depth: int) -> bool:
    """Plain depth-first search over every schedule up to ``depth`` steps, by deep copies:
    an independent oracle for "no shorter counterexample exists"."""
    def dfs(k: StepKernel, left: int) -> bool:
        if len(k.in_cs()) > 1:
            return True
        if left == 0:
            return False
        for step in k.enabled():
            k2 = copy.deepcopy(k)
            k2.apply(step)
            if dfs(k2, left - 1):
                return True
        return False
    return dfs(StepKernel(algorithm, config), depth)


def test_counterexample_is_shortest():
    cfg = ZOO["ra-off-by-one"].config
    e = explore(RAOffByOne, cfg)
    assert e.kind == "safety" and len(e.schedule) == 6
    assert not _violates_within(RAOffByOne, cfg, 5)
    assert _violates_within(RAOffByOne, cfg, 6)


def test_counterexample_reads_well_and_draws():
    e = explore(RAOffByOne, ZOO["ra-off-by-one"].config)
    text = str(e)
    assert "safety violation after 6 steps" in text and "P0 and P1 in the CS together" in text
    assert "   1. request P0" in text and "deliver Message(REPLY" in text
    run = e.replay()
    fig = draw_run(run)
    timeline, diagram = fig.axes[:2]
    assert any(p.get_facecolor()[0] > 0.8 for p in timeline.patches)  # the red overlap band
    dots = [c for c in diagram.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == len(run)  # one dot per event


def test_a_coordinator_crash_is_a_deadlock_in_the_search():
    e = explore(Centralized, Config(n=3, requests=1, crashes=(Crash(0, time=1.0),)))
    assert e.kind == "deadlock" and e.schedule[-1].kind == "crash", str(e)
    assert len(e.schedule) <= 3


def test_state_limit_stops_the_search_without_a_verdict():
    e = explore(RicartAgrawala, Config(n=3, requests=1), max_states=50)
    assert not e and not e.exhausted and e.violation is None and e.states == 50
    assert "stopped at the state limit" in repr(e)


def test_exploration_summary_has_no_wall_clock():
    from course.mutex import RicartAgrawala, explore
    from course.sim import Config

    result = explore(RicartAgrawala, Config(n=2))
    assert result.summary() == result.summary()
    assert " s," not in result.summary() and "space exhausted" in result.summary()
    assert str(result).startswith(result.summary().split(" states")[0])


# ----- one invariant abstraction: fairness in the algorithm's own flavour -----------------
@pytest.mark.parametrize("config", [Config(n=3, requests=1), Config(n=3, requests=2),
                                    Config(n=4, requests=1, fifo=False)])
def test_the_coordinator_is_fair_in_arrival_order(config):
    assert Centralized.fairness == "arrival"
    e = explore(Centralized, config, fairness=True)
    assert e.ok and e.exhausted and e.violation is None, str(e)


def test_the_coordinator_is_not_fair_in_timestamp_order():
    """The flavour matters: (ts, pid) order is not what a coordinator promises."""
    e = explore(Centralized, Config(n=3, requests=1), fairness="timestamp")
    assert e.kind == "fairness", str(e)


@pytest.mark.parametrize("algorithm", [Lamport, RicartAgrawala])
def test_permission_based_algorithms_are_fair_in_timestamp_order(algorithm):
    assert algorithm.fairness == "timestamp"
    cfg = Config(n=3, requests=[(0, 0), (1, 0)]) if algorithm is Lamport else Config(n=3)
    assert explore(algorithm, cfg, fairness=True).ok
    assert explore(algorithm, cfg, fairness="timestamp").ok


def test_a_lifo_coordinator_is_caught_by_the_search_in_arrival_order():
    from mutex_zoo import CentralizedLIFO

    e = explore(CentralizedLIFO, Config(n=3, requests=2), fairness=True)
    assert e.kind == "fairness" and "happened before" in e.violation, str(e)
    assert not check_fairness(e.replay(), "causal")  # the run check agrees


def test_student_classes_default_to_timestamp_fairness():
    from course.mutex._invariants import fairness_order, invariants_for
    from course.sim import Node

    class Mine(Node):
        pass

    assert fairness_order(Mine) == "timestamp"
    names = [i.name for i in invariants_for(Centralized, fairness=True)]
    assert names == ["safety", "error", "deadlock (liveness)", "fairness (arrival)"]
    with pytest.raises(ValueError, match="fairness"):
        invariants_for(Mine, fairness="fifo")


def test_check_seeds_uses_the_same_invariants():
    from mutex_zoo import CentralizedLIFO

    assert check_seeds(Centralized, Config(n=4, requests=3), range(10), fairness=True)
    sweep = check_seeds(CentralizedLIFO, Config(n=4, requests=3), range(50), fairness=True)
    assert not sweep and any(v.check == "fairness (causal)" and not v for v in sweep.verdicts)


# ----- each broken kind with its own shortest counterexample, safety first -----------------
class _UnfairAndUnsafe(RicartAgrawala):
    """Larger pid wins ties (unfair) *and* enters one reply early (unsafe)."""

    def defers(self, msg):
        return self.state == "held" or (
            self.state == "wanted" and (self.mine[0], -self.pid) < (msg.ts, -msg.sender))

    def try_enter(self):
        if self.state == "wanted" and len(self.replies) >= len(self.peers) - 1:
            self.state = "held"
            self.enter_cs()


def test_safety_is_reported_first_with_its_own_shortest_schedule():
    cfg = Config(n=3, requests=1, fifo=False)
    e = explore(_UnfairAndUnsafe, cfg, fairness=True)
    kinds = [v.kind for v in e.violations]
    assert kinds[0] == "safety" and "fairness" in kinds, str(e)
    assert e.kind == "safety" and e.schedule == e.violations[0].schedule
    assert "and a fairness violation" in e.summary()
    # each counterexample is as short as a search for that kind alone finds it
    alone = explore(_UnfairAndUnsafe, cfg, fairness=False)
    assert alone.kind == "safety" and len(alone.schedule) == len(e.schedule)
    assert not check_safety(e.replay("safety"))
    fair = e.violations[kinds.index("fairness")]
    assert not check_fairness(e.replay("fairness"))
    assert not _violates_within(_UnfairAndUnsafe, cfg, len(e.schedule) - 1)
    assert len(fair.schedule) >= 1 and e.exhausted
    with pytest.raises(ValueError, match="deadlock"):
        e.replay("deadlock")


# ----- a node that raises: the same "error" report from seeds and from the search ----------
def test_check_seeds_and_explore_report_a_raising_node_alike():
    from mutex_zoo import CentralizedDoubleEnter

    cfg = Config(n=3, requests=1)
    sweep = check_seeds(CentralizedDoubleEnter, cfg, range(20))  # used to raise
    assert not sweep and [v.check for v in sweep.verdicts] == ["error"], repr(sweep)
    seeded = sweep.verdicts[0].problems[0]
    e = explore(CentralizedDoubleEnter, cfg)
    searched = next(v for v in e.violations if v.kind == "error")
    for text in (seeded, searched.violation):  # node, handler, where, exception
        assert text.startswith("ProtocolError: P") and "called enter_cs() while " in text, text
        assert ", raised by P" in text and ".on_message(Message(GRANT" in text, text
    assert " at time " in seeded and sweep.run is not None and sweep.run.error == seeded
    assert f" at step {len(searched.schedule)}: deliver Message(GRANT" in searched.violation
    assert e.replay("error").error == searched.violation  # the replay says the same


def test_a_raising_on_start_is_an_error_result_too():
    from course.sim import Node

    class Broken(Node):
        def on_start(self):
            raise KeyError("no state")

    e = explore(Broken, Config(n=2))
    assert e.kind == "error" and "raised by P0.on_start()" in e.violation, str(e)
    sweep = check_seeds(Broken, Config(n=2), range(3))
    assert not sweep and "KeyError" in sweep.verdicts[0].problems[0]


# ----- state canonicalization: insertion order is not part of a state ----------------------
class _HeardForward(RicartAgrawala):
    """Ricart–Agrawala that also keeps who it heard from, in a dict (and sets its
    attributes in one order)."""

    def on_start(self):
        self.heard = {}
        super().on_start()

    def on_message(self, msg):
        self.heard[msg.sender] = msg.ts
        super().on_message(msg)


class _HeardSorted(_HeardForward):
    """The same dict always rebuilt in sorted key order (so its order never depends on
    the schedule), and the attributes set in the other order."""

    def on_start(self):
        super(_HeardForward, self).on_start()
        self.heard = {}

    def on_message(self, msg):
        self.heard = dict(sorted({**self.heard, msg.sender: msg.ts}.items()))
        RicartAgrawala.on_message(self, msg)


def test_dict_and_attribute_order_do_not_make_new_states():
    from course.sim._steps import node_key

    assert node_key({"a": 1, "b": {1: 2, 3: 4}}, 0) == node_key({"b": {3: 4, 1: 2}, "a": 1}, 0)
    assert node_key({"q": [1, 2]}, 0) != node_key({"q": [2, 1]}, 0)  # a list keeps order
    cfg = Config(n=3, requests=1, fifo=False)
    a, b = explore(_HeardForward, cfg), explore(_HeardSorted, cfg)
    assert a.ok and b.ok and (a.states, a.transitions) == (b.states, b.transitions)
