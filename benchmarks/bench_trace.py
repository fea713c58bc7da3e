"""The trace I/O layer: vector timestamps of a big trace, and importing a big ShiViz log.

* ``vector_timestamps`` of random traces of 10^5 and 10^6 events over 16 processes.
* ``Trace.from_shiviz`` of logs of 2·10^4 and 2·10^5 events over 16 hosts, written the way
  GoVector users get them: free event texts (repeated, some blank), one host's log after
  another. The imported trace is checked: same number of events, and its vector clocks are
  the log's (so happens-before is the clocks' order).

Best of ``--repeat`` runs (default 1). Run: .venv/bin/python benchmarks/bench_trace.py
[--quick] [--repeat K]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from machine import cpu_model

from course import Trace, random_trace, vector_timestamps

PROCS = 16


def generic_log(t: Trace) -> str:
    vts = vector_timestamps(t)
    texts = ["Done", "send it", "recv it", "", "Initialization Complete", "tick"]
    out = []
    for i, e in enumerate(x for p in t.processes for x in t.events_of(p)):
        vc = {p: c for p, c in zip(t.processes, vts[e.name], strict=True) if c}
        out.append(f"{texts[i % len(texts)]}\n{e.process} {json.dumps(vc)}")
    return "\n".join(out) + "\n"


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 1
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"{'task':<34} {'events':>9} {'s':>7} {'events/s':>10}")
    for n in [100_000] if quick else [100_000, 1_000_000]:
        t = random_trace(PROCS, n, seed=n)
        s, _ = best(lambda t=t: vector_timestamps(t), repeat)
        print(f"{'vector_timestamps (16 processes)':<34} {n:>9,} {s:>7.2f} {n / s:>10,.0f}",
              flush=True)
        del t
    for n in [20_000] if quick else [20_000, 200_000]:
        src = random_trace(PROCS, n, seed=n)
        log = generic_log(src)
        s, back = best(lambda log=log: Trace.from_shiviz(log), repeat)
        assert isinstance(back, Trace) and len(back) == n
        vts = vector_timestamps(src)
        want = {f"{h}.{k}": vts[e.name] for h in src.processes
                for k, e in enumerate(src.events_of(h), 1)}
        order = [src.processes.index(p) for p in back.processes]
        got = vector_timestamps(back)
        assert all(tuple(want[e][i] for i in order) == got[e] for e in got)
        print(f"{'Trace.from_shiviz (16 hosts)':<34} {n:>9,} {s:>7.2f} {n / s:>10,.0f}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
