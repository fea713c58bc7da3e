"""A correct submission that is noisy: a DeprecationWarning, a UserWarning, a log message,
a print to sys.stderr and a raw write to file descriptor 2 on every call. Must get full
marks (nbgrader scores a grade cell 0 for any stderr output)."""

# %% lamport_timestamps
import logging
import os
import sys
import warnings


def lamport_timestamps(trace):
    warnings.warn("lamport_timestamps: this API is deprecated", DeprecationWarning,
                  stacklevel=2)
    warnings.warn("lamport_timestamps: a user warning", stacklevel=2)
    logging.getLogger("student").warning("lamport_timestamps: a log message")
    print("lamport_timestamps: a print to stderr", file=sys.stderr)
    os.write(2, b"lamport_timestamps: a raw write to fd 2\n")
    clocks = {p: LamportClock() for p in trace.processes}  # noqa: F821 (the student's class)
    carried, ts = {}, {}
    for e in trace.causal_order():
        clock = clocks[e.process]
        if e.kind == "send":
            ts[e.name] = carried[e.message] = clock.send()
        elif e.kind == "receive":
            ts[e.name] = clock.receive(carried[e.message])
        else:
            ts[e.name] = clock.tick()
    return ts
