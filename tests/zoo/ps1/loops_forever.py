"""Walks the trace process by process and, at a receive whose message has not been stamped
yet, "waits for the message to arrive" — which in one sequential program never happens. It
hangs exactly on traces where a message goes to an earlier-listed process (hidden tests
only), so those cells time out and score 0 while the others keep their points."""

# %% lamport_timestamps
def lamport_timestamps(trace):
    clocks = {p: LamportClock() for p in trace.processes}  # noqa: F821 (the student's class)
    carried, ts = {}, {}
    for e in trace.events:
        clock = clocks[e.process]
        if e.kind == "send":
            ts[e.name] = carried[e.message] = clock.send()
        elif e.kind == "receive":
            while e.message not in carried:
                pass  # wait for the message
            ts[e.name] = clock.receive(carried[e.message])
        else:
            ts[e.name] = clock.tick()
    return ts
