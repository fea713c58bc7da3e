"""lamport_timestamps uses one clock for all processes (a global counter, not Lamport)."""

# %% lamport_timestamps
def lamport_timestamps(trace):
    clock = LamportClock()  # noqa: F821 (the student's class)
    carried, ts = {}, {}
    for e in trace.causal_order():
        if e.kind == "send":
            ts[e.name] = carried[e.message] = clock.send()
        elif e.kind == "receive":
            ts[e.name] = clock.receive(carried[e.message])
        else:
            ts[e.name] = clock.tick()
    return ts
