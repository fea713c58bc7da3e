"""Reference parallel workload: independent 1-D random walkers, split over devices.

Rules of the workload:

* ``walkers`` independent walkers start at 0 and take ``steps`` steps of +1 or -1.
* Every walker ``w`` owns the random stream ``fold_in(key, w)``; step ``t`` uses
  ``bits(fold_in(fold_in(key, w), t))``.  The stream depends on the *walker index*,
  never on the device (a per-device ``fold_in(key, axis_index)`` would change the
  numbers with the device count), so 1, 2 or 4 devices produce exactly the same walks.
* Each device runs its block of walkers through a sequential ``lax.fori_loop`` over the
  steps (step ``t + 1`` needs the position after step ``t``).  The device finds its
  first walker from ``lax.axis_index``.
* The devices combine their partial sums with ``lax.psum``.  The sum of squared final
  positions is an integer, so the result is bit-identical for any device count.
* The observable is the mean squared displacement (MSD); its expectation is ``steps``.

Three versions share the same per-block code: a single-device ``jit`` reference,
``jax.pmap`` and ``shard_map``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "devices"
_MAX_TOTAL = 2**30  # keeps the int32 sum of squared positions far from overflow

_shard_map: Callable[..., Any]
try:  # jax >= 0.6 exports shard_map at the top level
    _shard_map = jax.shard_map
except AttributeError:  # pragma: no cover - older JAX
    from jax.experimental.shard_map import shard_map as _shard_map


def _check_sizes(walkers: int, steps: int) -> None:
    if walkers <= 0:
        raise ValueError(f"Need at least one walker, got walkers={walkers}")
    if steps < 0:
        raise ValueError(f"Negative number of steps {steps}")
    if walkers * max(steps, 1) > _MAX_TOTAL:
        raise ValueError(
            f"walkers * steps = {walkers} * {steps} exceeds {_MAX_TOTAL}: "
            "the int32 sum of squared positions could overflow"
        )


def _split(walkers: int, n_devices: int) -> int:
    if n_devices <= 0:
        raise ValueError(f"Need at least one device, got n_devices={n_devices}")
    if walkers % n_devices:
        raise ValueError(
            f"Cannot split {walkers} walkers over {n_devices} devices: "
            f"{walkers} is not a multiple of {n_devices}"
        )
    return walkers // n_devices


def _walk_block(key: jax.Array, positions: jax.Array, first: jax.Array, steps: int) -> jax.Array:
    """Walk the block of walkers ``first, first+1, ...``; return sum of squared positions."""
    ids = first.astype(jnp.uint32) + jnp.arange(positions.shape[0], dtype=jnp.uint32)
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, ids)

    def one_step(t: jax.Array, pos: jax.Array) -> jax.Array:
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, t)
        bits = jax.vmap(lambda k: jax.random.bits(k, dtype=jnp.uint32))(step_keys)
        return pos + 2 * (bits & 1).astype(jnp.int32) - 1

    final = lax.fori_loop(0, steps, one_step, positions)
    return jnp.sum(final * final)


def walk_inputs(walkers: int, n_devices: int = 1, seed: int = 0) -> tuple[jax.Array, np.ndarray]:
    """Return ``(key, positions)``; positions are zeros of shape ``(n_devices, walkers/n)``."""
    per_device = _split(walkers, n_devices)
    return jax.random.key(seed), np.zeros((n_devices, per_device), dtype=np.int32)


def walk_reference(walkers: int, steps: int, seed: int = 0) -> float:
    """Single-device reference: same keys and math, all walkers in one block."""
    _check_sizes(walkers, steps)
    key = jax.random.key(seed)
    total = _reference_total(key, jnp.zeros((walkers,), jnp.int32), steps)
    return int(total) / walkers


@partial(jax.jit, static_argnums=2)
def _reference_total(key: jax.Array, positions: jax.Array, steps: int) -> jax.Array:
    return _walk_block(key, positions, jnp.uint32(0), steps)


def make_walk_pmap(
    steps: int, devices: Sequence[Any] | None = None
) -> Callable[[jax.Array, Any], jax.Array]:
    """Return ``f(key, positions) -> psum total`` mapped with ``jax.pmap`` over devices.

    ``positions`` has shape ``(n_devices, walkers_per_device)``; the output has shape
    ``(n_devices,)`` and every entry holds the same global total.  Functions are cached
    per ``(steps, devices)`` so repeated calls do not recompile.
    """
    return _cached_pmap(steps, tuple(jax.local_devices() if devices is None else devices))


@lru_cache(maxsize=32)
def _cached_pmap(steps: int, devices: tuple[Any, ...]) -> Callable[..., jax.Array]:
    def per_device(key: jax.Array, positions: jax.Array) -> jax.Array:
        first = lax.axis_index(AXIS) * positions.shape[0]
        return lax.psum(_walk_block(key, positions, first, steps), AXIS)

    return jax.pmap(per_device, axis_name=AXIS, in_axes=(None, 0), devices=devices)


def walk_pmap(walkers: int, steps: int, seed: int = 0, n_devices: int | None = None) -> float:
    """MSD computed with ``jax.pmap`` over the first ``n_devices`` local devices."""
    _check_sizes(walkers, steps)
    devices = _pick_devices(n_devices)
    key, positions = walk_inputs(walkers, len(devices), seed)
    totals = make_walk_pmap(steps, devices)(key, positions)
    return int(totals[0]) / walkers


def make_walk_shard_map(steps: int, mesh: Mesh) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Return jitted ``f(key, positions) -> total`` using ``shard_map`` over ``mesh``.

    ``positions`` is a flat ``(walkers,)`` array sharded along the mesh axis ``AXIS``;
    the result is a replicated scalar.  Cached per ``(steps, mesh)`` like the pmap one.
    """
    return _cached_shard_map(steps, mesh)


@lru_cache(maxsize=32)
def _cached_shard_map(steps: int, mesh: Mesh) -> Callable[..., jax.Array]:
    def per_device(key: jax.Array, positions: jax.Array) -> jax.Array:
        first = lax.axis_index(AXIS) * positions.shape[0]
        return lax.psum(_walk_block(key, positions, first, steps), AXIS)

    mapped = _shard_map(
        per_device,
        mesh=mesh,
        in_specs=(PartitionSpec(), PartitionSpec(AXIS)),
        out_specs=PartitionSpec(),
    )
    return jax.jit(mapped)


def walk_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A 1-D mesh with axis name ``AXIS`` over ``devices`` (default: all devices)."""
    devs = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devs), (AXIS,))


def walk_positions(walkers: int, mesh: Mesh) -> jax.Array:
    """Zero start positions, shape ``(walkers,)``, sharded over the mesh axis ``AXIS``."""
    _split(walkers, mesh.size)
    return jax.device_put(np.zeros((walkers,), np.int32), NamedSharding(mesh, PartitionSpec(AXIS)))


def walk_shard_map(walkers: int, steps: int, seed: int = 0, n_devices: int | None = None) -> float:
    """MSD computed with ``shard_map`` over the first ``n_devices`` local devices."""
    _check_sizes(walkers, steps)
    mesh = walk_mesh(_pick_devices(n_devices))
    positions = walk_positions(walkers, mesh)
    total = make_walk_shard_map(steps, mesh)(jax.random.key(seed), positions)
    return int(total) / walkers


def _pick_devices(n_devices: int | None) -> list[Any]:
    local = jax.local_devices()
    if n_devices is None:
        return local
    if not 1 <= n_devices <= len(local):
        raise ValueError(
            f"n_devices={n_devices} is not between 1 and the {len(local)} local devices {local}"
        )
    return local[:n_devices]
