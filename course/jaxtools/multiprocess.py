"""Two-process demo: the random-walk workload with a collective *across processes*.

Run ``python -m course.jaxtools.multiprocess`` to launch the demo, or call
:func:`run_multiprocess` from Python.  Rules:

* Every process gets ``devices_per_process`` CPU devices (``JAX_NUM_CPU_DEVICES``) and
  joins the job with ``jax.distributed.initialize`` on ``127.0.0.1:<free port>``;
  process 0 hosts the coordinator.  CPU collectives go through gloo.
* The ``shard_map`` workload runs on a mesh over *all* global devices, so its ``psum``
  crosses the process boundary.  Every process prints the same replicated total.
* The launcher enforces a hard ``timeout``: on expiry it kills every worker it started
  and raises ``TimeoutError``.  Workers that fail raise ``RuntimeError`` with their
  stderr.  Only the loopback interface is used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

RESULT_PREFIX = "RESULT "


@dataclass(frozen=True)
class ProcessResult:
    """What one worker process reported."""

    process_id: int
    total: int
    msd: float
    global_devices: int
    local_devices: int
    seconds: float

    def __repr__(self) -> str:
        return (
            f"ProcessResult(process {self.process_id}: msd={self.msd:.6g}, total={self.total}, "
            f"{self.local_devices} local / {self.global_devices} global devices, "
            f"{self.seconds:.2f} s)"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker(process_id: int, num_processes: int, port: int, walkers: int, steps: int,
           seed: int) -> ProcessResult:
    """Body of one worker process; call it before JAX initializes its backends."""
    import jax
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    from course.jaxtools._workloads import AXIS, make_walk_shard_map, walk_mesh

    if "jax_cpu_collectives_implementation" in jax.config.values:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    start = time.perf_counter()
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=num_processes,
        process_id=process_id,
    )
    try:
        mesh = walk_mesh(jax.devices())
        if walkers % mesh.size:
            raise ValueError(f"walkers={walkers} is not a multiple of {mesh.size} global devices")
        local = np.zeros((walkers // jax.process_count(),), dtype=np.int32)
        positions = jax.make_array_from_process_local_data(
            NamedSharding(mesh, PartitionSpec(AXIS)), local, (walkers,)
        )
        inner = make_walk_shard_map(steps, mesh)
        run = jax.jit(lambda s, pos: inner(jax.random.key(s), pos))
        total_arr = run(np.uint32(seed), positions)
        total = int(np.asarray(total_arr.addressable_data(0)))
        return ProcessResult(
            process_id=process_id,
            total=total,
            msd=total / walkers,
            global_devices=jax.device_count(),
            local_devices=jax.local_device_count(),
            seconds=time.perf_counter() - start,
        )
    finally:
        jax.distributed.shutdown()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's own session, started below
        proc.wait()


def run_multiprocess(
    walkers: int = 256,
    steps: int = 100,
    seed: int = 0,
    num_processes: int = 2,
    devices_per_process: int = 2,
    timeout: float = 120.0,
) -> list[ProcessResult]:
    """Start ``num_processes`` workers on 127.0.0.1, wait (at most ``timeout`` s), collect."""
    if num_processes < 1 or devices_per_process < 1:
        raise ValueError(
            f"Need num_processes >= 1 and devices_per_process >= 1, got "
            f"{num_processes} and {devices_per_process}"
        )
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices_per_process))
    deadline = time.monotonic() + timeout
    procs: list[tuple[subprocess.Popen[bytes], Any, Any]] = []
    with contextlib.ExitStack() as stack:
        for pid in range(num_processes):
            out = stack.enter_context(tempfile.TemporaryFile())
            err = stack.enter_context(tempfile.TemporaryFile())
            cmd = [sys.executable, "-m", "course.jaxtools.multiprocess", "--process-id",
                   str(pid), "--num-processes", str(num_processes), "--port", str(port),
                   "--walkers", str(walkers), "--steps", str(steps), "--seed", str(seed)]
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True)
            stack.callback(_kill, proc)  # runs first on exit: nothing outlives the launcher
            procs.append((proc, out, err))
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                raise TimeoutError(
                    f"{num_processes} JAX processes on port {port} did not finish within "
                    f"{timeout} s; all were killed"
                ) from None
        return [_collect(i, proc, out, err) for i, (proc, out, err) in enumerate(procs)]


def _collect(index: int, proc: subprocess.Popen[bytes], out: Any, err: Any) -> ProcessResult:
    out.seek(0)
    err.seek(0)
    stdout = out.read().decode(errors="replace")
    stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"Process {index} exited with {proc.returncode}:\n{stderr[-3000:]}")
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return ProcessResult(**json.loads(line[len(RESULT_PREFIX):]))
    raise RuntimeError(f"Process {index} printed no result line:\n{stdout[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process-id", type=int, default=None, help="run as this worker")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--walkers", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.process_id is None:
        results = run_multiprocess(args.walkers, args.steps, args.seed, args.num_processes,
                                   timeout=args.timeout)
        for result in results:
            print(result)
        return 0
    if args.port is None:
        parser.error("--port is required together with --process-id")
    result = worker(args.process_id, args.num_processes, args.port, args.walkers, args.steps,
                    args.seed)
    print(RESULT_PREFIX + json.dumps(result.__dict__), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
