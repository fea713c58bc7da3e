"""lamport_timestamps walks the trace process by process instead of in causal order; a
receive whose message was not stamped yet uses 0. Passes every visible test (there messages
only go to later-listed processes); hidden random traces and edge cases catch it."""

# %% lamport_timestamps
def lamport_timestamps(trace):
    clocks = {p: LamportClock() for p in trace.processes}  # noqa: F821 (the student's class)
    carried, ts = {}, {}
    for e in trace.events:
        clock = clocks[e.process]
        if e.kind == "send":
            ts[e.name] = carried[e.message] = clock.send()
        elif e.kind == "receive":
            ts[e.name] = clock.receive(carried.get(e.message, 0))
        else:
            ts[e.name] = clock.tick()
    return ts
