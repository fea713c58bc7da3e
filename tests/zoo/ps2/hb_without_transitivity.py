"""happens_before knows rules 1 and 2 (same process, one message) but not rule 3: a chain of
two messages is missed. concurrent, built on it, then calls causally related events
concurrent."""

# %% happens_before
def happens_before(trace, a, b):
    ea, eb = trace[a], trace[b]
    if ea.process == eb.process:
        return ea.index < eb.index
    return ea.kind == "send" and eb.kind == "receive" and ea.message == eb.message
