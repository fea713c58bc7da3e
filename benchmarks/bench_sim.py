"""Simulator throughput vs SimPy, and the speed of the exhaustive explorer.

1. Relay workload: N=16 processes, 10^5 messages. Each process starts one token and, on
   every arrival, forwards a token to the next peer in a round-robin of its peers until
   it has sent 10^5/16 messages; delays Uniform(1, 2). Timed for ``course.sim.simulate``
   (trace recording on, non-FIFO and FIFO; and off) and for the same exchange written on
   SimPy (a Store per process, a process per message doing timeout(delay) then put) —
   SimPy does no Lamport stamping and keeps no record, so the comparison favours it.
   Materialising the recorded log as a ``course.Trace`` (on first use of ``run.trace``)
   is timed separately.
2. Exhaustive search: states/s and time to exhaust Ricart–Agrawala, N=3, one request
   each (and a few other small configurations).

Best of ``--repeat`` runs (default 3) per row: the machine may be shared.
Run: .venv/bin/python benchmarks/bench_sim.py [--repeat K]
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time

import simpy
from machine import cpu_model

from course.mutex import Centralized, Lamport, RicartAgrawala, explore
from course.sim import Config, Message, Node, Uniform, simulate

N, MESSAGES = 16, 100_000


class Relay(Node):
    """Forward every token to the next peer in turn, until this process's share is sent."""

    def on_start(self) -> None:
        self.budget = MESSAGES // self.n - 1
        self.hop = 0
        self.send((self.pid + 1) % self.n, "TOKEN")

    def on_message(self, msg: Message) -> None:
        if self.budget:
            self.budget -= 1
            self.hop = self.hop % (self.n - 1) + 1
            self.send((self.pid + self.hop) % self.n, "TOKEN")


def simpy_relay(seed: int) -> int:
    """The same exchange on SimPy; returns the number of deliveries."""
    env = simpy.Environment()
    rng = random.Random(seed)
    stores = [simpy.Store(env) for _ in range(N)]
    delivered = [0]

    def transmit(dest: int, msg: int):
        yield env.timeout(1.0 + rng.random())
        stores[dest].put(msg)

    def node(pid: int):
        budget, hop = MESSAGES // N - 1, 0
        env.process(transmit((pid + 1) % N, pid))
        while True:
            yield stores[pid].get()
            delivered[0] += 1
            if budget:
                budget -= 1
                hop = hop % (N - 1) + 1
                env.process(transmit((pid + hop) % N, pid))

    for p in range(N):
        env.process(node(p))
    env.run()
    return delivered[0]


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    print(f"Machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
          f"{cpu_model()}, Python {platform.python_version()}, SimPy {simpy.__version__}")
    print(f"\nRelay: N={N}, {MESSAGES:,} messages, delay Uniform(1, 2); best of {repeat}\n")
    print("| simulator | recording | channels | deliveries | s | deliveries/s | "
          "events/s | vs SimPy |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    t_simpy, d_simpy = best(lambda: simpy_relay(1), repeat)
    rows = []
    for label, record, fifo in (("course.sim", True, False), ("course.sim", True, True),
                                ("course.sim", False, False)):
        cfg = Config(n=N, requests=0, delay=Uniform(1.0, 2.0), fifo=fifo)
        t, run = best(lambda cfg=cfg, record=record: simulate(Relay, cfg, 1, record=record),
                      repeat)
        assert run.delivered == d_simpy == MESSAGES, (run.delivered, d_simpy)
        rows.append((label, "on" if record else "off", "FIFO" if fifo else "non-FIFO",
                     run.delivered, t))
    rows.append(("SimPy store + timeout", "off", "non-FIFO", d_simpy, t_simpy))
    for label, rec, ch, d, t in rows:
        events = 2 * d if rec == "on" else float("nan")
        ev = f"{events / t:,.0f}" if rec == "on" else "–"
        print(f"| {label} | {rec} | {ch} | {d:,} | {t:.3f} | {d / t:,.0f} | {ev} | "
              f"{t_simpy / t:.1f}× |")

    cfg = Config(n=N, requests=0, delay=Uniform(1.0, 2.0), fifo=False)
    run = simulate(Relay, cfg, 1)
    t0 = time.perf_counter()
    trace = run.trace
    t_trace = time.perf_counter() - t0
    print(f"\nMaterialising run.trace ({len(trace):,} events, validated): {t_trace:.2f} s; "
          f"simulate + trace: {MESSAGES / (rows[0][4] + t_trace):,.0f} deliveries/s")

    print("\nExhaustive search (breadth first, state hashing), one run each\n")
    print("| algorithm | configuration | states | transitions | s | states/s | result |")
    print("|---|---|---:|---:|---:|---:|---|")
    for alg, cfg, fair in (
            (RicartAgrawala, Config(n=3, requests=1, fifo=False), False),
            (RicartAgrawala, Config(n=3, requests=1, fifo=True), False),
            (RicartAgrawala, Config(n=3, requests=1, fifo=False), True),
            (Lamport, Config(n=3, requests=[(0, 0), (1, 0)]), True),
            (Lamport, Config(n=2, requests=3), True),
            (Centralized, Config(n=3, requests=2), False)):
        e = explore(alg, cfg, fairness=fair)
        desc = (f"N={cfg.n}, requests {'/'.join(map(str, cfg.requests_per_process()))}, "
                f"{'FIFO' if cfg.fifo else 'non-FIFO'}{', fairness' if fair else ''}")
        result = "exhausted, no violation" if e.ok else repr(e)
        print(f"| {alg.__name__} | {desc} | {e.states:,} | {e.transitions:,} | "
              f"{e.seconds:.2f} | {e.states / e.seconds:,.0f} | {result} |")


if __name__ == "__main__":
    main()
