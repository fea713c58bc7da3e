"""total_order breaks timestamp ties by the larger process id first."""

# %% total_order
def total_order(trace, timestamps):
    return [e.name for e in sorted(trace.events,
                                   key=lambda e: (timestamps[e.name], -trace.pid(e.process)))]
