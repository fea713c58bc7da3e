"""vector_timestamps indexes the vector by the processes sorted by name, not by process id
(their position in trace.processes). The vectors are permuted, so happens_before built on
them is still right; only the hidden vector test (processes not listed alphabetically)
catches it. Passes every visible test."""

# %% vector_timestamps
def vector_timestamps(trace):
    names = sorted(trace.processes)
    n = len(names)
    pid = {p: names.index(p) for p in names}
    clocks = {p: [0] * n for p in names}
    carried, out = {}, {}
    for e in trace.causal_order():
        vc = clocks[e.process]
        if e.kind == "receive":
            vc[:] = [max(x, y) for x, y in zip(vc, carried[e.message], strict=True)]
        vc[pid[e.process]] += 1
        out[e.name] = tuple(vc)
        if e.kind == "send":
            carried[e.message] = tuple(vc)
    return out
