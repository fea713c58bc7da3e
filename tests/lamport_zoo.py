"""A zoo of broken Lamport clocks and total orders: each must be caught by the checkers.

Every entry computes timestamps for a trace the way a student might get it wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from course import Trace


def _run(trace: Trace, on_local, on_send, on_receive) -> dict[str, int]:
    clock = dict.fromkeys(trace.processes, 0)
    carried: dict[str, int] = {}
    ts: dict[str, int] = {}
    for e in trace.causal_order():
        c = clock[e.process]
        if e.kind == "send":
            c = on_send(c)
            carried[e.message] = c
        elif e.kind == "receive":
            c = on_receive(c, carried[e.message])
        else:
            c = on_local(c)
        clock[e.process] = ts[e.name] = c
    return ts


def no_plus_one_on_receive(t: Trace) -> dict[str, int]:
    return _run(t, lambda c: c + 1, lambda c: c + 1, lambda c, m: max(c, m))


def no_tick_on_send(t: Trace) -> dict[str, int]:
    return _run(t, lambda c: c + 1, lambda c: c, lambda c, m: max(c, m) + 1)


def receive_ignores_message(t: Trace) -> dict[str, int]:
    return _run(t, lambda c: c + 1, lambda c: c + 1, lambda c, m: c + 1)


def receive_takes_message_plus_one(t: Trace) -> dict[str, int]:
    """Forgets its own clock: TS = message + 1."""
    return _run(t, lambda c: c + 1, lambda c: c + 1, lambda c, m: m + 1)


def min_instead_of_max(t: Trace) -> dict[str, int]:
    return _run(t, lambda c: c + 1, lambda c: c + 1, lambda c, m: min(c, m) + 1)


def event_index_only(t: Trace) -> dict[str, int]:
    """Numbers events per process, ignoring messages entirely."""
    return {e.name: e.index + 1 for e in t.events}


BROKEN_CLOCKS: dict[str, Callable[[Trace], dict[str, int]]] = {
    f.__name__: f
    for f in (no_plus_one_on_receive, no_tick_on_send, receive_ignores_message,
              receive_takes_message_plus_one, min_instead_of_max, event_index_only)
}


def order_larger_pid_first(t: Trace, ts: dict[str, int]) -> list[str]:
    pid = {p: i for i, p in enumerate(t.processes)}
    return sorted(ts, key=lambda n: (ts[n], -pid[t[n].process]))


def order_by_event_name(t: Trace, ts: dict[str, int]) -> list[str]:
    return sorted(ts, key=lambda n: (ts[n], n))


def order_by_process_name(t: Trace, ts: dict[str, int]) -> list[str]:
    return sorted(ts, key=lambda n: (ts[n], t[n].process))


def order_timestamps_only_unstable(t: Trace, ts: dict[str, int]) -> list[str]:
    """Sorts by timestamp only, listing processes last-to-first."""
    evs = [e.name for p in reversed(t.processes) for e in t.events_of(p)]
    return sorted(evs, key=lambda n: ts[n])


BROKEN_ORDERS = {
    f.__name__: f
    for f in (order_larger_pid_first, order_by_event_name, order_by_process_name,
              order_timestamps_only_unstable)
}
