"""Helpers for a distributed-computing course: traces, clocks, order, pictures.

``import course`` is light: it never imports jax, nbgrader or ipywidgets. JAX helpers live in
``course.jaxtools``, widgets in ``course.widgets``, the simulator in ``course.sim`` and the
mutual-exclusion algorithms in ``course.mutex``.
"""

from course._clocks import (
    LamportClock,
    PhysicalClock,
    VectorClock,
    lamport_timestamps,
    physical_timestamps,
    vector_timestamps,
)
from course._order import (
    HappensBefore,
    OrderProblem,
    Violation,
    check_clock_condition,
    check_total_order,
    concurrent,
    happens_before,
    total_order,
)
from course._plots import space_time_diagram
from course._trace import GOVECTOR_REGEX, SHIVIZ_REGEX, Event, Trace, TraceError, random_trace
from course.mutex import (
    Centralized,
    Lamport,
    RicartAgrawala,
    check_fairness,
    check_liveness,
    check_safety,
    check_seeds,
    draw_run,
    explore,
)
from course.sim import Config, Crash, Message, Node, Run, replay, simulate

LECTURE_EXAMPLE = """\
A: a b!m1
B: c?m1 d!m2
C: e f?m2
"""

__all__ = [
    "GOVECTOR_REGEX",
    "LECTURE_EXAMPLE",
    "SHIVIZ_REGEX",
    "Centralized",
    "Config",
    "Crash",
    "Event",
    "HappensBefore",
    "Lamport",
    "LamportClock",
    "Message",
    "Node",
    "OrderProblem",
    "PhysicalClock",
    "RicartAgrawala",
    "Run",
    "Trace",
    "TraceError",
    "VectorClock",
    "Violation",
    "check_clock_condition",
    "check_fairness",
    "check_liveness",
    "check_safety",
    "check_seeds",
    "check_total_order",
    "concurrent",
    "draw_run",
    "explore",
    "happens_before",
    "lamport_timestamps",
    "physical_timestamps",
    "random_trace",
    "replay",
    "simulate",
    "space_time_diagram",
    "total_order",
    "vector_timestamps",
]
__version__ = "0.1.0"
