"""Real and fake parallel random walks for ``judge_parallel`` (tests/test_jax_verify.py).

Every entry is ``fn(key, start)`` (argument 1, ``start``, is what must be split over the
devices) with its arguments and the verdict expected on ``n`` devices: one boolean per rule
(``ParallelReport.rules``).  Imported by the tests in-process (1 device) and in a subprocess
with 4 CPU devices.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P

from course.jaxtools import make_walk_pmap, make_walk_shard_map, walk_mesh, walk_positions

AXIS = "devices"
STEPS = 5
PER_DEVICE = 4
RULES = ("record", "a", "b", "c", "d", "e")


# --- the ps4 solution (source/ps4/ps4.ipynb: split_walkers, walk_block, walk_parallel) ---


def split_walkers(x: jax.Array, n_devices: int) -> jax.Array:
    walkers = x.shape[0]
    if walkers % n_devices:
        raise ValueError(f"cannot split {walkers} walkers over {n_devices} devices")
    return x.reshape((n_devices, walkers // n_devices, *x.shape[1:]))


def walk_block(key: jax.Array, start: jax.Array, first: Any, steps: int) -> jax.Array:
    ids = jnp.asarray(first).astype(jnp.uint32) + jnp.arange(start.shape[0], dtype=jnp.uint32)
    walker_keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)

    def one_step(t: jax.Array, positions: jax.Array) -> jax.Array:
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(walker_keys, t)
        bits = jax.vmap(lambda k: jax.random.bits(k, dtype=jnp.uint32))(step_keys)
        return positions + 2 * (bits & 1).astype(jnp.int32) - 1

    final = lax.fori_loop(0, steps, one_step, jnp.asarray(start, jnp.int32))
    return jnp.sum(final * final)


def walk_block_while(key: jax.Array, start: jax.Array, first: Any, steps: Any) -> jax.Array:
    """The same walk with ``lax.while_loop`` (a ``while`` in the jaxpr, not a ``scan``)."""
    ids = jnp.asarray(first).astype(jnp.uint32) + jnp.arange(start.shape[0], dtype=jnp.uint32)
    walker_keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)

    def body(state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        t, positions = state
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(walker_keys, t)
        bits = jax.vmap(lambda k: jax.random.bits(k, dtype=jnp.uint32))(step_keys)
        return t + 1, positions + 2 * (bits & 1).astype(jnp.int32) - 1

    _, final = lax.while_loop(lambda s: s[0] < steps, body,
                              (jnp.int32(0), jnp.asarray(start, jnp.int32)))
    return jnp.sum(final * final)


def walk_parallel(key: jax.Array, start: jax.Array, steps: int = STEPS) -> jax.Array:
    n = jax.local_device_count()
    blocks = split_walkers(start, n)
    per_device = blocks.shape[1]

    def on_one_device(key: jax.Array, block: jax.Array) -> jax.Array:
        first = lax.axis_index(AXIS) * per_device
        return lax.psum(walk_block(key, block, first, steps), axis_name=AXIS)

    return jax.pmap(on_one_device, axis_name=AXIS, in_axes=(None, 0))(key, blocks)


# --- the zoo ---------------------------------------------------------------------------


def _pmap(body: Callable[..., Any], in_axes: Any = (None, 0)) -> Callable[..., Any]:
    return jax.pmap(body, axis_name=AXIS, in_axes=in_axes)


def _first(block: jax.Array) -> jax.Array:
    return lax.axis_index(AXIS) * block.shape[0]


@partial(jax.jit, static_argnums=2)
def _one_device_walk(key: jax.Array, start: jax.Array, steps: int) -> jax.Array:
    return walk_block(key, start, 0, steps)


def zoo(n: int) -> dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, bool]]]:
    """name -> (fn, args, expected rules) on ``n`` (= the local device count) devices."""
    walkers = PER_DEVICE * n
    key = jax.random.key(3)
    start = jnp.asarray(np.arange(walkers) % 3 - 1, jnp.int32)
    mesh = walk_mesh()

    def shard_map_inline(key: jax.Array, start: jax.Array) -> jax.Array:
        def per_device(key: jax.Array, block: jax.Array) -> jax.Array:
            return lax.psum(walk_block(key, block, _first(block), STEPS), AXIS)

        return jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(AXIS)),
                             out_specs=P())(key, start)

    def while_pmap(key: jax.Array, start: jax.Array) -> jax.Array:
        steps = jnp.int32(STEPS)  # a traced bound: lax.while_loop -> while
        return _pmap(lambda k, b, s: lax.psum(walk_block_while(k, b, _first(b), s), AXIS),
                     in_axes=(None, 0, None))(key, split_walkers(start, n), steps)

    def pmap_pmean_times_n(key: jax.Array, start: jax.Array) -> jax.Array:
        body = lambda k, b: lax.pmean(walk_block(k, b, _first(b), STEPS), AXIS) * n  # noqa: E731
        return _pmap(body)(key, split_walkers(start, n))

    def jit_walk_plus_token_pmap(key: jax.Array, start: jax.Array) -> jax.Array:
        token = _pmap(lambda z: lax.psum(z, AXIS), in_axes=0)(jnp.zeros(n, jnp.int32))
        return _one_device_walk(key, start, STEPS) + token

    def jit_walk_plus_pmap_on_start(key: jax.Array, start: jax.Array) -> jax.Array:
        token = _pmap(lambda b: lax.psum(b.sum() * 0, AXIS), in_axes=0)(split_walkers(start, n))
        return _one_device_walk(key, start, STEPS) + token

    def token_loop_in_map_walk_outside(key: jax.Array, start: jax.Array) -> jax.Array:
        def body(b: jax.Array) -> jax.Array:
            return lax.psum(lax.fori_loop(0, STEPS, lambda i, c: c + 0, b).sum() * 0, AXIS)

        return _one_device_walk(key, start, STEPS) + _pmap(body, in_axes=0)(split_walkers(start, n))

    def replicated_start(key: jax.Array, start: jax.Array) -> jax.Array:
        def body(k: jax.Array, s: jax.Array, device: jax.Array) -> jax.Array:
            return lax.pmean(walk_block(k, s, 0, STEPS), AXIS) + device * 0

        # pmap needs one mapped argument: the device numbers; start goes to every device
        return _pmap(body, in_axes=(None, None, 0))(key, start, jnp.arange(n))

    def broadcast_start(key: jax.Array, start: jax.Array) -> jax.Array:
        body = lambda k, s: lax.pmean(walk_block(k, s, 0, STEPS), AXIS)  # noqa: E731
        return _pmap(body)(key, jnp.broadcast_to(start, (n, *start.shape)))

    def all_gather_then_walk(key: jax.Array, start: jax.Array) -> jax.Array:
        def body(k: jax.Array, b: jax.Array) -> jax.Array:
            everything = lax.all_gather(b, AXIS, tiled=True)  # every device gets all walkers
            return lax.pmean(walk_block(k, everything, 0, STEPS), AXIS)

        return _pmap(body)(key, split_walkers(start, n))

    def pmap_host_sum(key: jax.Array, start: jax.Array) -> jax.Array:
        sums = _pmap(lambda k, b: walk_block(k, b, _first(b), STEPS))(key, split_walkers(start, n))
        return jnp.full((n,), sums.sum())

    def shard_map_sum_outside(key: jax.Array, start: jax.Array) -> jax.Array:
        def per_device(key: jax.Array, block: jax.Array) -> jax.Array:
            return walk_block(key, block, _first(block), STEPS)[None]

        sums = jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(AXIS)),
                             out_specs=P(AXIS))(key, start)
        return sums.sum()

    def psum_of_something_else(key: jax.Array, start: jax.Array) -> jax.Array:
        def body(k: jax.Array, b: jax.Array) -> jax.Array:
            other = lax.psum(jnp.ones_like(b).sum(), AXIS)  # from the split input, not the walk
            return walk_block(k, b, _first(b), STEPS) + 0 * other

        return _pmap(body)(key, split_walkers(start, n))

    def vmap_fake(key: jax.Array, start: jax.Array) -> jax.Array:
        blocks = split_walkers(start, n)
        firsts = jnp.arange(n) * blocks.shape[1]
        sums = jax.vmap(lambda b, f: walk_block(key, b, f, STEPS))(blocks, firsts)
        return jnp.full((n,), jnp.sum(sums))

    def loop_fake(key: jax.Array, start: jax.Array) -> jax.Array:
        blocks = split_walkers(start, n)
        total = sum(walk_block(key, blocks[d], d * blocks.shape[1], STEPS) for d in range(n))
        return jnp.full((n,), total)

    def jit_fake(key: jax.Array, start: jax.Array) -> jax.Array:
        return jnp.full((n,), _one_device_walk(key, start, STEPS))

    def host_numpy_sum(key: jax.Array, start: jax.Array) -> Any:
        sums = _pmap(lambda k, b: walk_block(k, b, _first(b), STEPS))(key, split_walkers(start, n))
        return np.asarray(sums).sum()

    def rules(*letters: str) -> dict[str, bool]:
        """The rules that hold (``"all"``: every one)."""
        held = set(RULES) if letters == ("all",) else set(letters)
        return {r: r in held for r in RULES}

    ok = rules("all")
    return {
        # genuinely parallel
        "solution_pmap": (walk_parallel, (key, start), ok),
        "solution_pmap_in_jit": (jax.jit(walk_parallel), (key, start), ok),
        "reference_pmap": (make_walk_pmap(STEPS), (key, split_walkers(start, n)), ok),
        "reference_shard_map": (make_walk_shard_map(STEPS, mesh),
                                (key, walk_positions(walkers, mesh)), ok),
        "shard_map_inline": (shard_map_inline, (key, start), ok),
        "while_pmap": (while_pmap, (key, start), ok),
        "pmap_pmean_times_n": (pmap_pmean_times_n, (key, start), ok),
        # fakes
        "jit_walk_plus_token_pmap": (jit_walk_plus_token_pmap, (key, start),
                                     rules("record", "a")),
        "jit_walk_plus_pmap_on_start": (jit_walk_plus_pmap_on_start, (key, start),
                                        rules("record", "a", "b")),
        "token_loop_in_map_walk_outside": (token_loop_in_map_walk_outside, (key, start),
                                           rules("record", "a", "b", "c", "d")),
        "replicated_start": (replicated_start, (key, start), rules("record", "a", "e")),
        # with one device a broadcast is the split: nothing to tell apart
        "broadcast_start": (broadcast_start, (key, start),
                            ok if n == 1 else rules("record", "a", "e")),
        "all_gather_then_walk": (all_gather_then_walk, (key, start),
                                 rules("record", "a", "b", "e")),
        "pmap_host_sum": (pmap_host_sum, (key, start), rules("record", "a", "b", "e")),
        "shard_map_sum_outside": (shard_map_sum_outside, (key, start),
                                  rules("record", "a", "b", "e")),
        "psum_of_something_else": (psum_of_something_else, (key, start),
                                   rules("record", "a", "b", "e")),
        "vmap_fake": (vmap_fake, (key, start), rules("record")),
        "loop_fake": (loop_fake, (key, start), rules("record")),
        "jit_fake": (jit_fake, (key, start), rules("record")),
        "host_numpy_sum": (host_numpy_sum, (key, start), rules()),
    }


ACCEPTED = {"solution_pmap", "solution_pmap_in_jit", "reference_pmap", "reference_shard_map",
            "shard_map_inline", "while_pmap", "pmap_pmean_times_n"}


def records(n: int) -> dict[str, Any]:
    """name -> jaxpr_record of every zoo entry (what a kernel with ``n`` devices sends)."""
    from course.jaxtools import jaxpr_record

    return {name: jaxpr_record(fn, *args) for name, (fn, args, _) in zoo(n).items()}


def expected(n: int) -> dict[str, dict[str, bool]]:
    return {name: rules for name, (_fn, _args, rules) in zoo(n).items()}
