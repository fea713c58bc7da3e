"""Submits the course library's reference: imports vector_timestamps and happens_before,
wraps concurrent and total_order around the library's. Must score 0 on Parts A-C."""
# ruff: noqa: I001, E402 -- each "# %%" section is a separate notebook cell

# %% vector_timestamps
from course import vector_timestamps  # noqa: F401

# %% happens_before
from course import happens_before  # noqa: F401

# %% concurrent
import course


def concurrent(trace, a, b):
    return course.concurrent(trace, a, b)

# %% total_order
import course._order


def total_order(trace, timestamps):
    return course._order.total_order(trace, timestamps)
