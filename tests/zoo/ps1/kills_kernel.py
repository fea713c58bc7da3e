"""Calls os._exit(1) on a trace with a message (the lecture's example is the first): the
kernel dies in the first test of Part B. Part A's points must survive; the cell that killed
the kernel and every cell after it score 0."""

# %% lamport_timestamps
import os


def lamport_timestamps(trace):
    if trace.sends():
        os._exit(1)
    return {e.name: e.index + 1 for e in trace.events}
