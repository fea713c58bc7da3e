"""Benchmarks for course.jaxtools; prints Markdown tables (pasted into README_jax.md).

1. Accuracy of ``time_jax`` against ``timeit`` of ``f(x).block_until_ready()`` for the
   lecture's ``f(x) = sin(x) + 2 cos(x) tanh(x)`` (jitted), interleaving the two
   methods so background load hits both alike.
2. NumPy vs eager JAX vs ``jax.jit`` on the same ``f`` (``course.jaxtools.compare``).
3. ``pmap`` speedup of the random-walk workload on 1, 2 and 4 forced CPU devices;
   every device count runs in its own fresh process (``JAX_NUM_CPU_DEVICES``).

Usage: ``python benchmarks/bench_jax.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit

import jax
import jax.numpy as jnp
import numpy as np
from machine import cpu_model

from course.jaxtools import compare, run_with_cpu_devices, time_jax

PMAP_WORKER = """
import json, os, time, jax
from course.jaxtools import make_walk_pmap, time_jax, walk_inputs

def stat():
    with open("/proc/stat") as fh:
        f = [int(v) for v in fh.readline().split()[1:]]
    return sum(f), sum(f) - f[3] - f[4]

walkers, steps, repeat = {walkers}, {steps}, {repeat}
n = jax.local_device_count()
key, positions = walk_inputs(walkers, n, seed=0)
fn = make_walk_pmap(steps)
r = time_jax(fn, key, positions, repeat=repeat, name=f"pmap x{{n}}")
(total0, busy0), cpu0 = stat(), time.process_time()
for _ in range(3):  # steady calls only: CPU use and background load
    fn(key, positions).block_until_ready()
(total1, busy1), cpu1 = stat(), time.process_time()
ticks = os.sysconf("SC_CLK_TCK")
wall = (total1 - total0) / ticks / os.cpu_count()
others = ((busy1 - busy0) / ticks - (cpu1 - cpu0)) / wall
total = fn(key, positions)
print(json.dumps({{"n": n, "first": r.first, "median": r.median, "min": r.min, "iqr": r.iqr,
                  "recompiled": r.recompiled, "cpu_per_wall": (cpu1 - cpu0) / wall,
                  "others": max(others, 0.0), "msd": int(total[0]) / walkers}}))
"""


SOLO_WORKER = """
import json, sys, time, jax
from course.jaxtools import make_walk_pmap, time_jax, walk_inputs
key, positions = walk_inputs({walkers}, 1, seed=0)
fn = make_walk_pmap({steps})
fn(key, positions).block_until_ready()
time.sleep(max(0.0, {start} - time.time()))  # start together with the other copy
r = time_jax(fn, key, positions, repeat={repeat})
print(json.dumps({{"median": r.median, "min": r.min}}))
"""


def lecture_f(x: jax.Array) -> jax.Array:
    return jnp.sin(x) + 2 * jnp.cos(x) * jnp.tanh(x)


def lecture_f_numpy(x: np.ndarray) -> np.ndarray:
    return np.sin(x) + 2 * np.cos(x) * np.tanh(x)


def busy_cores(seconds: float = 1.0) -> float:
    """Cores kept busy by *other* programs, from two /proc/stat samples (Linux; else nan)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return float("nan")
    busy = 1 - (idle1 - idle0) / max(total1 - total0, 1)
    return busy * (os.cpu_count() or 1)


def machine() -> str:
    model = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"nproc={os.cpu_count()}, CPU: {model}, Python {platform.python_version()}, "
        f"jax {jax.__version__}, numpy {np.__version__}, load average (1 min) {load:.2f}, "
        f"cores busy with other work right now {busy_cores():.2f}"
    )


def accuracy(n: int, rounds: int, repeat: int) -> dict[str, float]:
    """time_jax vs timeit, alternating in ``rounds`` short rounds; medians and minima."""
    x = jax.random.normal(jax.random.key(0), (n, n), dtype=jnp.float32)
    fn = jax.jit(lecture_f)
    fn(x).block_until_ready()
    ours: list[float] = []
    theirs: list[float] = []
    number = 1
    for _ in range(rounds):
        r = time_jax(fn, x, repeat=repeat)
        number = r.number
        ours.extend(r.samples)
        timer = timeit.Timer(lambda: fn(x).block_until_ready())
        theirs.extend(t / number for t in timer.repeat(repeat=repeat, number=number))
    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    return {
        "number": number,
        "ours": med_ours,
        "timeit": med_theirs,
        "diff_pct": 100 * (med_ours - med_theirs) / med_theirs,
        "min_ours": min(ours),
        "min_timeit": min(theirs),
        "min_diff_pct": 100 * (min(ours) - min(theirs)) / min(theirs),
    }


def pmap_scaling(walkers: int, steps: int, repeat: int, rounds: int) -> list[dict[str, float]]:
    """Run 1, 2, 4 devices in fresh processes, ``rounds`` times interleaved.

    Per device count it keeps the round with the lowest median (other programs on a
    small machine can only slow a run down) and the lowest single sample of all rounds.
    """
    best: dict[int, dict[str, float]] = {}
    for _ in range(rounds):
        for n in (1, 2, 4):
            code = PMAP_WORKER.format(walkers=walkers, steps=steps, repeat=repeat)
            out = run_with_cpu_devices(code, n_devices=n, timeout=600)
            row = json.loads(out.strip().splitlines()[-1])
            low = min(row["min"], best[n]["min"]) if n in best else row["min"]
            if n not in best or row["median"] < best[n]["median"]:
                best[n] = row
            best[n]["min"] = low
    return [best[n] for n in (1, 2, 4)]


def parallel_ceiling(walkers: int, steps: int, repeat: int) -> dict[str, float]:
    """Machine check without pmap: one 1-device process alone, then two copies at once.

    ``2 * alone / together`` is the best speedup *any* 2-way split can reach here; on a
    VM whose two vCPUs share a physical core (or a busy host) it is far below 2.
    """
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="1")

    def launch(copies: int) -> list[dict[str, float]]:
        code = SOLO_WORKER.format(walkers=walkers, steps=steps, repeat=repeat,
                                  start=time.time() + 6.0)
        procs = [
            subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                             text=True)
            for _ in range(copies)
        ]
        outs = [p.communicate(timeout=600)[0] for p in procs]
        return [json.loads(o.strip().splitlines()[-1]) for o in outs]

    alone = launch(1)[0]["median"]
    together = max(r["median"] for r in launch(2))
    return {"alone": alone, "together": together, "ceiling": 2 * alone / together}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def print_accuracy(size: int, rounds: int) -> None:
    print(
        f"### time_jax vs timeit (jitted f, float32, {rounds} alternating rounds of "
        "3 samples each)\n"
    )
    print("| array | loops/sample | time_jax median | timeit median | diff | time_jax min "
          "| timeit min | diff |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (size, max(size // 10, 10), max(size // 100, 10)):
        a = accuracy(n, rounds, repeat=3)
        print(
            f"| {n}x{n} | {a['number']} | {ms(a['ours'])} | {ms(a['timeit'])} "
            f"| {a['diff_pct']:+.1f}% | {ms(a['min_ours'])} | {ms(a['min_timeit'])} "
            f"| {a['min_diff_pct']:+.1f}% |"
        )


def print_compare(size: int, repeat: int) -> None:
    x = jax.random.normal(jax.random.key(0), (size, size), dtype=jnp.float32)
    x_np = np.asarray(x)
    jitted = jax.jit(lecture_f)
    c = compare(
        {
            "numpy": lambda: lecture_f_numpy(x_np),
            "eager": lambda: lecture_f(x),
            "jit": lambda: jitted(x),
        },
        repeat=repeat,
    )
    print(f"\n### NumPy vs eager vs jit, f on {size}x{size} float32\n")
    print("| version | first call | median | IQR | speedup vs numpy |")
    print("|---|---|---|---|---|")
    for name, r in c.results.items():
        print(f"| {name} | {ms(r.first)} | {ms(r.median)} | {ms(r.iqr)} | {c.speedup(name):.2f}x |")


def print_pmap(walkers: int, steps: int, repeat: int, rounds: int) -> None:
    rows = pmap_scaling(walkers, steps, repeat, rounds)
    print(
        f"\n### pmap random walk: {walkers} walkers x {steps} sequential steps "
        f"(best of {rounds} interleaved rounds)\n"
    )
    print(
        "| CPU devices | first call | median | IQR | speedup (median) | min | speedup (min) "
        "| own CPU / wall | other programs' cores | MSD |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    base, base_min = rows[0]["median"], rows[0]["min"]
    for row in rows:
        print(
            f"| {row['n']} | {ms(row['first'])} | {ms(row['median'])} | {ms(row['iqr'])} "
            f"| {base / row['median']:.2f}x | {ms(row['min'])} | {base_min / row['min']:.2f}x "
            f"| {row['cpu_per_wall']:.2f} | {row['others']:.2f} | {row['msd']:.4f} |"
        )
    same = len({row["msd"] for row in rows}) == 1
    print(f"\nSame MSD on every device count: {same}.")
    c = parallel_ceiling(walkers // 2, steps, repeat)
    print(
        f"\nMachine check without pmap ({walkers // 2} walkers, 1 device per process): one "
        f"process alone {ms(c['alone'])}, two copies at once {ms(c['together'])} each "
        f"-> best possible 2-way speedup on this machine right now {c['ceiling']:.2f}x."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--size", type=int, default=5000, help="f(x) on a size x size array")
    parser.add_argument("--walkers", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("accuracy", "compare", "pmap"), default=None)
    args = parser.parse_args(argv)
    size, walkers, steps, rounds, repeat = args.size, args.walkers, args.steps, args.rounds, 7
    if args.quick:
        size, walkers, steps, rounds, repeat = 500, 1024, 50, 1, 3

    print(f"Machine: {machine()}\n")

    if args.only in (None, "accuracy"):
        print_accuracy(size, rounds)
    if args.only in (None, "compare"):
        print_compare(size, repeat)
    if args.only in (None, "pmap"):
        print_pmap(walkers, steps, repeat, rounds)
    print(f"\nMachine after run: {machine()}")


if __name__ == "__main__":
    main()
