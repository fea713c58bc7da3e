"""Tests for the JAX timing harness (logic only: no assertion on how fast anything is)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

from course.jaxtools import (
    Comparison,
    TimingResult,
    _timing,
    compare,
    count_compiles,
    format_seconds,
    time_jax,
)


class BlockRecorder:
    """A pytree leaf that counts how often it was blocked on."""

    def __init__(self) -> None:
        self.blocked = 0

    def block_until_ready(self) -> BlockRecorder:
        self.blocked += 1
        return self


def f_lecture(x: jax.Array) -> jax.Array:
    return jnp.sin(x) + 2 * jnp.cos(x) * jnp.tanh(x)


def test_result_fields_and_repr() -> None:
    x = jnp.ones((8, 8))
    r = time_jax(jax.jit(f_lecture), x, repeat=5, number=3)
    assert isinstance(r, TimingResult)
    assert r.repeat == 5 and len(r.samples) == 5 and r.number == 3
    assert r.min <= r.q25 <= r.median <= r.q75
    assert r.iqr >= 0 and r.first > 0
    assert r.name == "f_lecture"
    text = repr(r)
    assert "f_lecture" in text and "first call" in text and "median" in text
    assert "RECOMPILED" not in text


def test_blocks_on_every_leaf_of_every_call() -> None:
    recorder = BlockRecorder()

    def fn() -> dict[str, object]:
        return {"array": jnp.zeros(2), "nested": (np.ones(1), recorder)}

    r = time_jax(fn, repeat=2, warmup=1, number=3)
    assert recorder.blocked == 1 + 1 + 2 * 3  # first + warmup + samples
    assert r.repeat == 2


def test_blocks_on_a_single_returned_leaf() -> None:
    recorder = BlockRecorder()
    time_jax(lambda: recorder, repeat=3, warmup=0, number=2)
    assert recorder.blocked == 1 + 3 * 2


class FakeClock:
    """Replaces the ``time`` module inside the harness; each call advances it by ``step``."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def perf_counter(self) -> float:
        return self.now

    def call(self) -> int:
        self.now += self.step
        return 0


def test_number_is_calibrated_like_timeit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(step=3e-5)
    monkeypatch.setattr(_timing, "time", clock)
    r = time_jax(clock.call, repeat=4)
    # 1, 2, 5 calls take < 2e-4 s; 10 calls take 3e-4 s -> number = 10
    assert r.number == 10
    assert r.samples == pytest.approx([3e-5] * 4)
    assert r.first == pytest.approx(3e-5)


def test_slow_function_uses_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(step=1e-3)
    monkeypatch.setattr(_timing, "time", clock)
    assert time_jax(clock.call, repeat=2).number == 1


def test_stable_jit_is_not_recompiled() -> None:
    fn = jax.jit(lambda x: x * 3.0 + 1.0)
    r = time_jax(fn, jnp.arange(5.0), repeat=3, number=2)
    assert r.first_traces >= 1 and r.first_compiles >= 1
    assert r.steady_traces == 0 and r.steady_compiles == 0
    assert r.cache_growth == 0
    assert not r.recompiled


def test_stable_eager_function_is_not_recompiled() -> None:
    r = time_jax(f_lecture, jnp.ones((3, 7)), repeat=3, number=2)
    assert not r.recompiled


def test_new_shape_every_call_is_reported_as_recompiled() -> None:
    jitted = jax.jit(lambda x: x * 2.0 + 1.0)
    sizes = itertools.count(1)

    def grows() -> jax.Array:
        return jitted(np.ones(next(sizes), dtype=np.float32))

    r = time_jax(grows, repeat=3, number=2)
    assert r.recompiled
    assert r.steady_compiles >= 3 * 2
    assert "RECOMPILED" in repr(r)


def test_recompile_seen_by_events_when_fn_has_no_cache() -> None:
    jitted = jax.jit(lambda x: x + 1)
    sizes = itertools.count(1)
    r = time_jax(lambda: jitted(jnp.ones(next(sizes))), repeat=2, number=1)
    assert r.recompiled
    assert r.cache_growth is None  # the lambda has no cache; events caught it


def test_count_compiles_sees_a_fresh_jit() -> None:
    with count_compiles() as counter:
        jax.jit(lambda x: x - 7)(jnp.ones(4)).block_until_ready()
    assert counter.traces >= 1 and counter.compiles >= 1
    assert "compiles=" in repr(counter)


def test_nested_counters_both_count_and_unregister() -> None:
    with count_compiles() as outer:
        with count_compiles() as inner:
            pass  # both still 0: equal values must not confuse unregistering
        jax.jit(lambda x: x * 11)(jnp.ones(2)).block_until_ready()
    assert inner.compiles == 0 and outer.compiles >= 1
    assert not _timing._active


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"repeat": 0}, "repeat=0"), ({"warmup": -1}, "-1"), ({"number": 0}, "number=0")],
)
def test_bad_arguments_are_named(kwargs: dict[str, int], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        time_jax(lambda: 0, **kwargs)


def test_kwargs_reach_the_function() -> None:
    seen: list[int] = []
    time_jax(lambda *, k: seen.append(k), k=5, repeat=1, number=1, warmup=0)
    assert seen == [5, 5]


@pytest.mark.parametrize(
    ("seconds", "text"), [(1.5, "1.5 s"), (2e-3, "2 ms"), (3.25e-6, "3.25 µs"), (4e-9, "4 ns")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_compare_numpy_eager_jit_table_and_plot() -> None:
    matplotlib.use("Agg")
    x = np.linspace(0, 1, 64, dtype=np.float32)
    fns = {
        "numpy": lambda a: np.sin(a) + 2 * np.cos(a) * np.tanh(a),
        "eager": f_lecture,
        "jit": jax.jit(f_lecture),
    }
    c = compare(fns, x, repeat=3, number=2)
    assert isinstance(c, Comparison)
    assert list(c.results) == ["numpy", "eager", "jit"]
    assert c.baseline == "numpy" and c.speedup("numpy") == 1.0
    table = repr(c)
    for name in fns:
        assert name in table
    assert "1.00x" in table and "speedup" in table
    ax = c.plot()
    assert len(ax.patches) == 2 * len(fns)
    ax2 = c.results["jit"].plot()
    assert ax2.get_yscale() == "log"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_compare_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="Nothing to compare"):
        compare({})
    with pytest.raises(ValueError, match="'gpu'"):
        compare({"a": lambda: 0}, baseline="gpu")
    c = compare({"a": lambda: 0}, repeat=1, number=1)
    with pytest.raises(KeyError, match="'b'"):
        c.speedup("b")
