"""A correct submission that warns and logs on every call (to stderr, which would cost
every grade cell its points without the set-up cell's routing). Must get full marks."""

# %% total_order
import logging
import sys
import warnings


def total_order(trace, timestamps):
    warnings.warn("total_order: deprecated", DeprecationWarning, stacklevel=2)
    logging.getLogger("student.order").error("total_order: an error-level log line")
    print("total_order: to stderr", file=sys.stderr)
    return [e.name for e in sorted(trace.events,
                                   key=lambda e: (timestamps[e.name], trace.pid(e.process)))]
