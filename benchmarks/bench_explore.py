"""Speed and memory of the exhaustive explorer (``course.mutex.explore``).

Prints a Markdown table: algorithm, N, configuration, states, transitions, seconds, peak
MB (the process's peak resident memory after the row, so rows are run from small to
large). Run: ``.venv/bin/python benchmarks/bench_explore.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from machine import cpu_model

from course.mutex import Centralized, Lamport, RicartAgrawala, explore
from course.sim import Config

CASES = [
    (Centralized, Config(n=3, requests=2), True),
    (RicartAgrawala, Config(n=3, requests=1, fifo=False), True),
    (Lamport, Config(n=2, requests=3), True),
    (Lamport, Config(n=3, requests=1), True),
    (RicartAgrawala, Config(n=4, requests=1), True),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="skip the two large rows")
    args = ap.parse_args()
    cases = CASES[:3] if args.quick else CASES
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print("| algorithm | N | configuration | states | transitions | s | peak MB | result |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for alg, cfg, fair in cases:
        t0 = time.perf_counter()
        e = explore(alg, cfg, fairness=fair)
        dt = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        chan = "FIFO" if cfg.fifo else "non-FIFO"
        req = "/".join(str(r) for r in cfg.requests_per_process())
        verdict = "exhausted, no violation" if e.ok else str(e).splitlines()[0][-60:]
        print(f"| {alg.__name__} | {cfg.n} | requests {req}, {chan}, fairness | "
              f"{e.states:,} | {e.transitions:,} | {dt:.2f} | {peak:.0f} | {verdict} |",
              flush=True)


if __name__ == "__main__":
    main()
