"""JAX tools for the course: timing, devices, parallelism checks, reference workload.

Importing this package imports JAX; ``import course`` alone never does.
"""

from course.jaxtools._devices import (
    describe_devices,
    ensure_cpu_devices,
    run_with_cpu_devices,
    shard_batch,
    unshard_batch,
)
from course.jaxtools._timing import (
    Comparison,
    CompileCounter,
    TimingResult,
    compare,
    count_compiles,
    format_seconds,
    time_jax,
)
from course.jaxtools._verify import (
    ParallelReport,
    jaxpr_record,
    judge_parallel,
    verify_parallel,
    walk_primitives,
)
from course.jaxtools._workloads import (
    AXIS,
    make_walk_pmap,
    make_walk_shard_map,
    walk_inputs,
    walk_mesh,
    walk_pmap,
    walk_positions,
    walk_reference,
    walk_shard_map,
)

__all__ = [
    "AXIS",
    "Comparison",
    "CompileCounter",
    "ParallelReport",
    "TimingResult",
    "compare",
    "count_compiles",
    "describe_devices",
    "ensure_cpu_devices",
    "format_seconds",
    "jaxpr_record",
    "judge_parallel",
    "make_walk_pmap",
    "make_walk_shard_map",
    "run_with_cpu_devices",
    "shard_batch",
    "time_jax",
    "unshard_batch",
    "verify_parallel",
    "walk_inputs",
    "walk_mesh",
    "walk_pmap",
    "walk_positions",
    "walk_primitives",
    "walk_reference",
    "walk_shard_map",
]
