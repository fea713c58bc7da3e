"""Tests for verify_parallel and the reference random-walk workload.

The same zoo of real and fake parallel computations runs in this process (1 device)
and in a subprocess with 4 CPU devices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from course.jaxtools import (
    ParallelReport,
    make_walk_pmap,
    make_walk_shard_map,
    run_with_cpu_devices,
    shard_batch,
    verify_parallel,
    walk_inputs,
    walk_mesh,
    walk_pmap,
    walk_positions,
    walk_primitives,
    walk_reference,
    walk_shard_map,
)


def zoo(n: int) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...]]]:
    """Real and fake ways to compute sum(x**2) over ``n`` device shards."""
    x = np.arange(8 * n, dtype=np.float32)
    mesh = walk_mesh()
    xs = shard_batch(x, n)

    def local(v: jax.Array) -> jax.Array:
        return jnp.sum(v * v)

    def loop_fake(xs: Any) -> jax.Array:
        return sum(local(xs[i]) for i in range(xs.shape[0]))

    key, pos = walk_inputs(64, n, seed=7)
    return {
        "pmap_psum": (jax.pmap(lambda v: lax.psum(local(v), "i"), axis_name="i"), (xs,)),
        "pmap_pmean": (jax.pmap(lambda v: lax.pmean(local(v), "i"), axis_name="i"), (xs,)),
        "vmap_fake": (lambda xs: jnp.sum(jax.vmap(local)(xs)), (xs,)),
        "loop_fake": (loop_fake, (xs,)),
        "jit_fake": (jax.jit(lambda xs: jnp.sum(xs * xs)), (xs,)),
        "pmap_host_sum": (lambda xs: jax.pmap(local)(xs).sum(), (xs,)),
        "pmap_numpy_sum": (lambda xs: np.asarray(jax.pmap(local)(xs)).sum(), (xs,)),
        "walk_pmap": (make_walk_pmap(30), (key, pos)),
        "walk_shard_map": (make_walk_shard_map(30, walk_mesh()), (key, walk_positions(64, mesh))),
    }


ACCEPTED = {"pmap_psum", "pmap_pmean", "walk_pmap", "walk_shard_map"}
STRUCTURE = {  # name -> (has_device_map, has_collective)
    "pmap_psum": (True, True),
    "pmap_pmean": (True, True),
    "vmap_fake": (False, False),
    "loop_fake": (False, False),
    "jit_fake": (False, False),
    "pmap_host_sum": (True, False),
    "pmap_numpy_sum": (False, False),
    "walk_pmap": (True, True),
    "walk_shard_map": (True, True),
}


def summarize(n: int) -> dict[str, list[Any]]:
    out = {}
    for name, (fn, args) in zoo(n).items():
        r = verify_parallel(fn, *args)
        out[name] = [r.ok, r.output_on_all_devices, r.has_device_map, r.has_collective]
    return out


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_in_process_structure(name: str) -> None:
    n = jax.local_device_count()  # 1 unless pytest was started with JAX_NUM_CPU_DEVICES
    fn, args = zoo(n)[name]
    report = verify_parallel(fn, *args)
    assert isinstance(report, ParallelReport)
    assert (report.has_device_map, report.has_collective) == STRUCTURE[name]
    assert report.ok == (name in ACCEPTED) == bool(report)
    text = repr(report)
    assert ("NOT PARALLEL" in text) != (name in ACCEPTED)
    if n == 1:
        assert report.output_on_all_devices is None  # not applicable on one device
        assert "not applicable" in text


def test_reasons_explain_the_failure() -> None:
    fn, args = zoo(1)["pmap_host_sum"]
    assert "outside the parallel program" in repr(verify_parallel(fn, *args))
    fn, args = zoo(1)["pmap_numpy_sum"]
    assert "cannot be traced" in repr(verify_parallel(fn, *args))
    fn, args = zoo(1)["vmap_fake"]
    assert "no shard_map/pmap" in repr(verify_parallel(fn, *args))


def test_collective_found_inside_control_flow() -> None:
    def body(v: jax.Array) -> jax.Array:
        def step(i: jax.Array, acc: jax.Array) -> jax.Array:
            return lax.cond(i > 0, lambda a: lax.psum(a, "i"), lambda a: a, acc)

        return lax.fori_loop(0, 3, step, v)

    fn = jax.jit(lambda xs: jax.pmap(body, axis_name="i")(xs) + 1)
    report = verify_parallel(fn, np.ones((1, 2), np.float32))
    assert report.ok and report.collectives == ("psum",)


def test_walk_primitives_recurses_into_scan_and_cond() -> None:
    def f(x: jax.Array) -> jax.Array:
        carry, _ = lax.scan(lambda c, _: (lax.cond(c.sum() > 0, jnp.sin, jnp.cos, c), None),
                            x, None, length=2)
        return carry

    names = {name for name, _ in walk_primitives(jax.make_jaxpr(jax.jit(f))(jnp.ones(3)))}
    assert {"scan", "cond", "sin", "cos"} <= names


SUBPROCESS = """
import json, sys
sys.path.insert(0, {tests!r})
from test_jax_verify import summarize
from course.jaxtools import walk_pmap, walk_shard_map
walks = {{f"{{kind}}_{{n}}": f(64, 30, seed=7, n_devices=n)
         for kind, f in (("pmap", walk_pmap), ("shard_map", walk_shard_map)) for n in (2, 4)}}
print(json.dumps({{"zoo": summarize(4), "walks": walks}}))
"""


@pytest.fixture(scope="module")
def four_devices() -> dict[str, Any]:
    import pathlib

    code = SUBPROCESS.format(tests=str(pathlib.Path(__file__).parent))
    return json.loads(run_with_cpu_devices(code, n_devices=4, timeout=90))


def test_four_devices_zoo(four_devices: dict[str, Any]) -> None:
    for name, (ok, _on_all, has_map, has_coll) in four_devices["zoo"].items():
        assert ok == (name in ACCEPTED), name
        assert (has_map, has_coll) == STRUCTURE[name], name
    zoo4 = four_devices["zoo"]
    for name in ("vmap_fake", "loop_fake", "jit_fake", "pmap_numpy_sum"):
        assert zoo4[name][1] is False, name  # result sits on one device (or the host)
    for name in ACCEPTED:
        assert zoo4[name][1] is True, name


def test_walk_same_value_on_1_2_4_devices(four_devices: dict[str, Any]) -> None:
    reference = walk_reference(64, 30, seed=7)
    assert len(four_devices["walks"]) == 4  # pmap and shard_map on 2 and 4 devices
    assert set(four_devices["walks"].values()) == {reference}
    assert walk_pmap(64, 30, seed=7) == walk_shard_map(64, 30, seed=7) == reference  # 1 device


def test_walk_statistics_and_seeds() -> None:
    msd = walk_reference(512, 64, seed=0)
    assert 48 < msd < 80  # E[msd] = steps = 64, std ~ 4
    assert walk_reference(512, 64, seed=1) != msd
    assert walk_reference(8, 0) == 0.0


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: walk_inputs(10, 4), "10 walkers over 4 devices"),
        (lambda: walk_reference(0, 5), "walkers=0"),
        (lambda: walk_reference(4, -1), "-1"),
        (lambda: walk_reference(2**20, 2**20), "overflow"),
        (lambda: walk_pmap(4, 1, n_devices=99), "n_devices=99"),
    ],
)
def test_walk_rejects_bad_sizes(call: Callable[[], object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        call()
