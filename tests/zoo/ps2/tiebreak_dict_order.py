"""total_order sorts the timestamps dict by value alone, so ties come out in the dict's
insertion order: right only when the test happens to build the dict in process-id order
(every case used to). The tests build their dicts in other orders."""

# %% total_order
def total_order(trace, timestamps):
    return sorted(timestamps, key=lambda name: timestamps[name])
