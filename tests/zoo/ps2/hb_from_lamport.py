"""happens_before compares Lamport timestamps: TS(a) < TS(b) is taken to mean a → b, the
converse of the clock condition (problem set 1's question)."""

# %% happens_before
def happens_before(trace, a, b):
    clocks = dict.fromkeys(trace.processes, 0)
    carried, ts = {}, {}
    for e in trace.causal_order():
        if e.kind == "receive":
            clocks[e.process] = max(clocks[e.process], carried[e.message])
        clocks[e.process] += 1
        ts[e.name] = clocks[e.process]
        if e.kind == "send":
            carried[e.message] = ts[e.name]
    return ts[a] < ts[b]
