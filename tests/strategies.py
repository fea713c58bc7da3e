"""Hypothesis strategies and brute-force oracles shared by the foundation tests."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from course import Trace, random_trace


@st.composite
def traces(draw, max_processes: int = 5, max_events: int = 30) -> Trace:
    """Random valid traces (seeded generator, so a failure prints a replayable seed)."""
    n = draw(st.integers(1, max_processes))
    k = draw(st.integers(0, max_events))
    seed = draw(st.integers(0, 2**32 - 1))
    p_send = draw(st.sampled_from([0.2, 0.4, 0.7]))
    return random_trace(n, k, seed=seed, p_send=p_send)


def brute_force_hb(trace: Trace) -> set[tuple[str, str]]:
    """Happens-before by the three rules, literally: rule 1 and 2 edges, then transitive
    closure by DFS from every event."""
    succ: dict[str, list[str]] = {e.name: [] for e in trace.events}
    for p in trace.processes:
        evs = trace.events_of(p)
        for x, y in itertools.pairwise(evs):
            succ[x.name].append(y.name)
    sends = trace.sends()
    for m, r in trace.receives().items():
        succ[sends[m].name].append(r.name)
    rel: set[tuple[str, str]] = set()
    for start in succ:
        stack, seen = list(succ[start]), set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            rel.add((start, x))
            stack.extend(succ[x])
    return rel
