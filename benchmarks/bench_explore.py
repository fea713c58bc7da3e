"""Speed and memory of the exhaustive explorer (``course.mutex.explore``).

Prints a Markdown table: algorithm, N, configuration, engine, states, transitions,
seconds, peak MB (the process's peak resident memory after the row, so rows are run from
small to large, and the reference engine's large row before the numpy one). Run:
``.venv/bin/python benchmarks/bench_explore.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from machine import cpu_model

from course.mutex import Centralized, Lamport, RicartAgrawala, explore
from course.sim import Config

#: (algorithm, configuration, engines, state limit)
CASES = [
    (Centralized, Config(n=3, requests=2), ("numpy", "reference"), 2_000_000),
    (RicartAgrawala, Config(n=3, requests=1, fifo=False), ("numpy", "reference"), 2_000_000),
    (Lamport, Config(n=2, requests=3), ("numpy", "reference"), 2_000_000),
    (Lamport, Config(n=3, requests=1), ("reference", "numpy"), 2_000_000),
    (RicartAgrawala, Config(n=4, requests=1), ("numpy",), 2_000_000),
    (RicartAgrawala, Config(n=4, requests=1), ("numpy",), 20_000_000),
]


def row(i: int, engine: str) -> str:
    """One row of the table, measured in this process."""
    alg, cfg, _, limit = CASES[i]
    t0 = time.perf_counter()
    e = explore(alg, cfg, fairness=True, engine=engine, max_states=limit)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chan = "FIFO" if cfg.fifo else "non-FIFO"
    req = "/".join(str(r) for r in cfg.requests_per_process())
    verdict = ("exhausted, no violation" if e.ok
               else f"stopped at the {limit:,} state limit" if not e.exhausted
               else str(e).splitlines()[0][-60:])
    return (f"| {alg.__name__} | {cfg.n} | requests {req}, {chan}, fairness | {engine} | "
            f"{e.states:,} | {e.transitions:,} | {dt:.2f} | {peak:.0f} | {verdict} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="skip the large rows")
    ap.add_argument("--row", nargs=2, metavar=("INDEX", "ENGINE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        print(row(int(args.row[0]), args.row[1]), flush=True)
        return
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print("| algorithm | N | configuration | engine | states | transitions | s | peak MB | "
          "result |")
    print("|---|---:|---|---|---:|---:|---:|---:|---|", flush=True)
    for i, (_, _, engines, _) in enumerate(CASES[:3] if args.quick else CASES):
        for engine in engines:  # a process per row: its own peak memory
            subprocess.run([sys.executable, __file__, "--row", str(i), engine], check=True)


if __name__ == "__main__":
    main()
