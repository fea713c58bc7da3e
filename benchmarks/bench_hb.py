"""Happens-before index vs a networkx reachability baseline.

For traces of 10^4, 10^5, 10^6 events over 16 processes: time to build the index
(`HappensBefore`, which includes the causal sort) and to answer 100,000 random queries. The
baseline answers queries with BFS reachability (`networkx.has_path`) on the event graph; it
is too slow for 100,000 queries, so it answers a sample and the rate is extrapolated.

Run: .venv/bin/python benchmarks/bench_hb.py [--quick]
"""

from __future__ import annotations

import itertools
import platform
import random
import sys
import time

import networkx as nx
from machine import cpu_model

from course import HappensBefore, Trace, random_trace

QUERIES = 100_000
PROCS = 16


def event_graph(trace: Trace) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(e.name for e in trace.events)
    for p in trace.processes:
        evs = trace.events_of(p)
        g.add_edges_from((x.name, y.name) for x, y in itertools.pairwise(evs))
    sends = trace.sends()
    g.add_edges_from((sends[m].name, r.name) for m, r in trace.receives().items())
    return g


def bench_index(trace: Trace, pairs: list[tuple[str, str]]) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    hb = HappensBefore(trace)
    t1 = time.perf_counter()
    q = hb.happens_before
    hits = sum(q(a, b) for a, b in pairs)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, hits


def bench_networkx(trace: Trace, pairs: list[tuple[str, str]], budget_s: float = 20.0):
    t0 = time.perf_counter()
    g = event_graph(trace)
    t1 = time.perf_counter()
    done, hits = 0, 0
    while done < len(pairs) and time.perf_counter() - t1 < budget_s:
        a, b = pairs[done]
        hits += a != b and nx.has_path(g, a, b)
        done += 1
    t2 = time.perf_counter()
    per_query = (t2 - t1) / done
    return t1 - t0, per_query * len(pairs), done, hits


def main(argv: list[str]) -> None:
    sizes = [10_000, 20_000, 100_000, 1_000_000]
    if "--quick" in argv:
        sizes = [10_000, 20_000]
    import os

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"{'events':>9} {'gen s':>7} {'index s':>8} {'100k q s':>9} {'µs/q':>6} "
          f"{'nx build s':>10} {'nx 100k q s (est.)':>18} {'nx sample':>9} {'speedup':>8}")
    for n in sizes:
        t0 = time.perf_counter()
        trace = random_trace(PROCS, n, seed=n)
        gen = time.perf_counter() - t0
        rng = random.Random(1)
        names = [e.name for e in trace.events]
        pairs = [(rng.choice(names), rng.choice(names)) for _ in range(QUERIES)]
        build, query, _hits = bench_index(trace, pairs)
        row = (f"{n:>9} {gen:>7.2f} {build:>8.2f} {query:>9.3f} {query / QUERIES * 1e6:>6.2f}")
        if n <= 100_000:
            nb, nq, sample, nhits = bench_networkx(trace, pairs, budget_s=10.0 if n > 20_000
                                                   else 20.0)
            # The sampled prefix must agree with the index: a benchmark that lies is useless.
            hb = HappensBefore(trace)
            expect = sum(hb.happens_before(a, b) for a, b in pairs[:sample])
            assert nhits == expect, (nhits, expect)
            speed = (nb + nq) / (build + query)
            row += f" {nb:>10.2f} {nq:>18.1f} {sample:>9} {speed:>7.0f}×"
        else:
            row += f" {'-':>10} {'-':>18} {'-':>9} {'-':>8}"
        print(row, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
