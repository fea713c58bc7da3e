"""The recorded transition table (course.mutex._evidence): what ps3's grader judges.

The table must replay the recorded algorithm exactly (same search graph, same runs), and a
table that was cut, edited, forged or garbled must fail with a message saying so, never pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from course.mutex import Centralized, RicartAgrawala, explore
from course.mutex._evidence import (
    Table,
    config_from_spec,
    config_spec,
    judge_behaviour,
    record_behaviour,
    table_algorithm,
)
from course.sim import Config, Constant, Exponential, Node, Uniform, simulate

N3 = Config(n=3, requests=1)


def context(config: Config, **kw: Any) -> dict[str, Any]:
    return {"config": config_spec(config), "seeds": [], "explore": False, "fairness": True,
            "per_entry": None, **kw}


def recorded(alg: type[Node], config: Config, **kw: Any) -> dict[str, Any]:
    return record_behaviour(alg, config, **kw)


def edited(value: dict[str, Any], change: Any) -> dict[str, Any]:
    data = json.loads(value["table"])
    change(data)
    return {**value, "table": json.dumps(data)}


def test_replaying_the_table_searches_the_same_graph() -> None:
    value = recorded(RicartAgrawala, N3, explore=True)
    table = Table.from_json(value["table"])
    original = explore(RicartAgrawala, N3, fairness=True)
    replayed = explore(table_algorithm(table), N3, fairness=True)
    assert replayed.ok and original.ok
    assert (replayed.states, replayed.transitions) == (original.states, original.transitions)


def test_replaying_the_table_reproduces_seeded_runs() -> None:
    config = Config(n=4, requests=2)
    table = Table.from_json(recorded(RicartAgrawala, config, seeds=range(5))["table"])
    replay = table_algorithm(table)
    for seed in range(5):
        a, b = simulate(RicartAgrawala, config, seed), simulate(replay, config, seed)
        assert a.order == b.order and a.timestamps == b.timestamps
        assert [(e.pid, e.entered) for e in a.entries] == [(e.pid, e.entered) for e in b.entries]
        assert a.messages_sent == b.messages_sent


def test_the_reference_passes_search_and_seeds_with_exact_message_counts() -> None:
    assert judge_behaviour(recorded(RicartAgrawala, N3, explore=True),
                           context(N3, explore=True)) is None
    config = Config(n=5, requests=2)
    value = recorded(RicartAgrawala, config, seeds=range(10))
    assert judge_behaviour(value, context(config, seeds=list(range(10)), per_entry=8)) is None
    why = judge_behaviour(value, context(config, seeds=list(range(10)), per_entry=3))
    assert why is not None and "exactly 3" in why


def test_the_coordinator_is_judged_on_seeds_too() -> None:
    config = Config(n=4, requests=2)
    value = recorded(Centralized, config, seeds=range(5))
    assert judge_behaviour(value, context(config, seeds=list(range(5)), fairness=False)) is None


def test_a_cut_table_is_incomplete_not_passed() -> None:
    value = recorded(RicartAgrawala, N3, explore=True)
    cut = edited(value, lambda d: d["rows"].pop(len(d["rows"]) // 2))
    why = judge_behaviour(cut, context(N3, explore=True))
    assert why is not None and "incomplete" in why and "did not complete" in why


def test_an_edited_transition_is_judged_as_recorded() -> None:
    """Dropping every send: the replay diverges from what was recorded (its clocks differ),
    so it either waits forever or runs off the table; it never passes."""
    config = Config(n=2, requests=1)
    value = recorded(RicartAgrawala, config, explore=True)

    def no_replies(d: dict[str, Any]) -> None:
        for row in d["rows"]:
            row[5] = [a for a in row[5] if a[:1] != ["send"]]

    why = judge_behaviour(edited(value, no_replies), context(config, explore=True))
    assert why is not None and ("deadlock" in why or "incomplete" in why)


def test_a_forged_table_of_a_buggy_algorithm_fails() -> None:
    class Greedy(Node):  # enters at once: unsafe
        def on_request_cs(self) -> None:
            self.enter_cs()

    value = recorded(Greedy, N3, explore=True)
    why = judge_behaviour(value, context(N3, explore=True))
    assert why is not None and "safety" in why and "request P0" in why


@pytest.mark.parametrize("garbage", [None, 3, "[]", '{"format": "other"}', "not json",
                                     '{"format": "mutex-table-1", "rows": [[1, 2]]}',
                                     '{"format": "mutex-table-1", "rows": [[0, 0, 0, 9, '
                                     'null, [], 0, null]], "init": [], "payloads": [], '
                                     '"conflicts": [], "nconflicts": 0, "states": 1}'])
def test_garbage_is_malformed(garbage: Any) -> None:
    why = judge_behaviour({"format": "mutex-table-1", "table": garbage}, context(N3))
    assert why is not None and ("malformed" in why or "did not complete" in why)
    assert judge_behaviour(garbage, context(N3)) is not None


def test_a_node_that_reads_a_global_is_not_judgeable() -> None:
    calls = [0]

    class Moody(RicartAgrawala):
        def on_message(self, msg: Any) -> None:
            calls[0] += 1
            if msg.type == "REQUEST" and calls[0] % 2:
                self.send(msg.sender, "REPLY", "odd")
                return
            super().on_message(msg)

    config = Config(n=3, requests=2)
    value = recorded(Moody, config, seeds=range(10))
    why = judge_behaviour(value, context(config, seeds=list(range(10))))
    assert why is not None and "function of its state" in why


def test_an_exception_in_a_handler_is_replayed_as_the_students() -> None:
    class Broken(RicartAgrawala):
        def on_exit_cs(self) -> None:
            raise KeyError("oops")

    value = recorded(Broken, N3, explore=True)
    why = judge_behaviour(value, context(N3, explore=True))
    assert why is not None and "KeyError" in why and "oops" in why


@pytest.mark.parametrize("config", [
    Config(n=3, requests=2),
    Config(n=4, requests=[(0, 0.0), (2, 1.5)], delay=Constant(2.0), fifo=False,
           cs_time=Uniform(0.5, 1.0), loss=0.1),
    Config(n=2, delay=Exponential(1.0, 0.1), max_time=50.0, max_events=1000),
])
def test_config_spec_round_trips(config: Config) -> None:
    assert config_from_spec(json.loads(json.dumps(config_spec(config)))) == config


def test_a_failure_comes_with_the_picture_of_the_failing_run() -> None:
    import base64

    class Greedy(Node):
        def on_request_cs(self) -> None:
            self.enter_cs()

    from course.mutex._evidence import assess, failure_figure

    for ctx in (context(N3, explore=True), context(N3, seeds=[3])):
        value = recorded(Greedy, N3, explore=bool(ctx["explore"]), seeds=ctx["seeds"])
        found = assess(value, ctx)
        assert found.problem is not None and found.run is not None
        assert not check_safety_ok(found.run)
        png = failure_figure(value, ctx)
        assert png is not None and base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    right = recorded(RicartAgrawala, N3, explore=True)
    assert failure_figure(right, context(N3, explore=True)) is None


def check_safety_ok(run: Any) -> bool:
    from course.mutex import check_safety

    return bool(check_safety(run))
