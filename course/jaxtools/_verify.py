"""Check that a computation really ran in parallel over devices: ``verify_parallel``.

Rules (all three must hold for ``report.ok``):

1. **Output on every local device** - every output array's ``sharding.device_set``
   contains all local devices (sharded or replicated; a NumPy/Python output fails).
   With a single local device this check is skipped and reported as not applicable.
2. **Explicit device mapping** - the jaxpr of ``fn`` contains a ``shard_map`` (what
   ``pmap`` lowers to in JAX >= 0.9) or an ``xla_pmap`` (older JAX).  Sub-jaxprs of
   ``jit``/``pjit``/``closed_call``/``cond``/``while``/``scan``/... are searched
   recursively.  Automatic sharding by ``jit`` alone is not accepted.
3. **Cross-device collective** - inside such a mapped body there is a collective
   (``psum``, ``pmean`` -> ``psum``, ``pmax``, ``all_gather``, ``ppermute``, ...).
   A per-device result combined afterwards on the host does not count.

``vmap``, Python loops and single-device ``jit`` produce the same *values* but fail
rule 2; ``pmap`` without a collective fails rule 3.  Rule 2 and 3 are structural, so
they apply on one device too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jax

MAPPED_PRIMITIVES = frozenset({"shard_map", "xla_pmap"})
COLLECTIVE_PRIMITIVES = frozenset(
    {
        "psum",
        "psum2",
        "psum_invariant",
        "pmax",
        "pmin",
        "pmean",
        "all_reduce",
        "all_gather",
        "all_gather_invariant",
        "all_to_all",
        "ppermute",
        "psum_scatter",
        "reduce_scatter",
    }
)


def _sub_jaxprs(value: Any) -> Iterator[Any]:
    """Yield the raw jaxprs inside an equation parameter (Jaxpr, ClosedJaxpr, tuples)."""
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def walk_primitives(jaxpr: Any, inside_map: bool = False) -> Iterator[tuple[str, bool]]:
    """Yield ``(primitive name, inside a shard_map/pmap body)`` for every equation, recursively."""
    raw = jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") and hasattr(jaxpr.jaxpr, "eqns") else jaxpr
    for eqn in raw.eqns:
        name = eqn.primitive.name
        yield name, inside_map
        below = inside_map or name in MAPPED_PRIMITIVES
        for param in eqn.params.values():
            for sub in _sub_jaxprs(param):
                yield from walk_primitives(sub, below)


@dataclass(frozen=True)
class ParallelReport:
    """Outcome of :func:`verify_parallel`: one boolean per rule plus readable reasons.

    ``output_on_all_devices`` is ``None`` when only one local device exists.
    """

    n_local_devices: int
    output_on_all_devices: bool | None
    has_device_map: bool
    has_collective: bool
    collectives: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        sharded = self.output_on_all_devices is not False
        return sharded and self.has_device_map and self.has_collective

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        verdict = "PARALLEL" if self.ok else "NOT PARALLEL"
        lines = [f"ParallelReport({verdict}, {self.n_local_devices} local device(s))"]
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)


def _device_check(out: Any, local: set[Any]) -> tuple[bool | None, str]:
    n = len(local)
    if n == 1:
        return None, "output placement: not applicable, only 1 local device"
    leaves = jax.tree_util.tree_leaves(out)
    if not leaves:
        return False, "output placement: the function returned no arrays"
    for leaf in leaves:
        sharding = getattr(leaf, "sharding", None)
        if sharding is None:
            return False, (
                f"output placement: a {type(leaf).__name__} is not a JAX array on the devices "
                "(combined on the host?)"
            )
        missing = local - set(sharding.device_set)
        if missing:
            return False, (
                f"output placement: an output of shape {getattr(leaf, 'shape', '?')} lives on "
                f"{len(sharding.device_set)} of {n} local devices ({sharding})"
            )
    return True, f"output placement: every output lives on all {n} local devices"


def verify_parallel(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ParallelReport:
    """Run ``fn(*args, **kwargs)`` once, trace it once, and report whether it ran in parallel.

    ``fn`` should return the device result itself (e.g. the ``pmap`` output), not a
    value already copied to the host.
    """
    local = set(jax.local_devices())
    reasons: list[str] = []

    out = jax.block_until_ready(fn(*args, **kwargs))
    on_all, why = _device_check(out, local)
    reasons.append(why)

    try:
        closed = jax.make_jaxpr(fn)(*args, **kwargs)
    except Exception as err:
        reasons.append(
            f"structure: fn cannot be traced ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "it leaves JAX (e.g. converts to NumPy), so no device mapping can be seen"
        )
        return ParallelReport(len(local), on_all, False, False, (), tuple(reasons))

    prims = list(walk_primitives(closed))
    has_map = any(name in MAPPED_PRIMITIVES for name, _ in prims)
    found = [(name, mapped) for name, mapped in prims if name in COLLECTIVE_PRIMITIVES]
    inside = sorted({name for name, mapped in found if mapped})
    outside = sorted({name for name, mapped in found if not mapped})
    if has_map:
        reasons.append("device mapping: found shard_map/pmap in the jaxpr")
    else:
        reasons.append(
            "device mapping: no shard_map/pmap in the jaxpr (vmap, Python loops and plain jit "
            "run the whole computation without an explicit per-device program)"
        )
    if inside:
        reasons.append(f"collective: {', '.join(inside)} inside the mapped body")
    elif has_map:
        reasons.append(
            "collective: none inside the mapped body - the per-device results are combined "
            "outside the parallel program (e.g. .sum() afterwards)"
            + (f"; found {', '.join(outside)} outside it" if outside else "")
        )
    else:
        reasons.append("collective: none (nothing is mapped over devices)")
    return ParallelReport(len(local), on_all, has_map, bool(inside), tuple(inside), tuple(reasons))
