# ruff: noqa: I001 -- each "# %%" section is a separate notebook cell
"""Submits the course library's reference instead of its own code: imports the class, and
wraps the library's lamport_timestamps. Must score 0 on Parts A and B."""

# %% lamport_clock
from course import LamportClock  # noqa: F401

# %% lamport_timestamps
import course


def lamport_timestamps(trace):
    return course.lamport_timestamps(trace)
