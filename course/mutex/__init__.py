"""Mutual exclusion on the simulator: reference algorithms, checkers, exploration, pictures.

Algorithms (correct, short, readable): :class:`Centralized` (coordinator P0),
:class:`Lamport` (1978, FIFO channels), :class:`RicartAgrawala` (1981). Checkers read a
:class:`course.sim.Run`: :func:`check_safety`, :func:`check_liveness`,
:func:`check_fairness`; metrics :func:`messages_per_entry`, :func:`sync_delays`,
:func:`metrics`. :func:`explore` searches every schedule of a small system and returns a
shortest counterexample; :func:`check_seeds` tries many random runs. Pictures:
:func:`cs_timeline`, :func:`message_diagram`, :func:`draw_run`; the ipywidgets stepper is
``course.mutex.widgets.stepper``.
"""

from course.mutex._centralized import Centralized
from course.mutex._checks import (
    Verdict,
    check_all,
    check_fairness,
    check_liveness,
    check_safety,
    message_counts,
    messages_per_entry,
    metrics,
    sync_delays,
    waiting_times,
)
from course.mutex._explore import Exploration, SeedSweep, Violation, check_seeds, explore
from course.mutex._lamport import Lamport
from course.mutex._plots import cs_timeline, draw_run, message_diagram
from course.mutex._ricart_agrawala import RicartAgrawala

ALGORITHMS = {"centralized": Centralized, "lamport": Lamport,
              "ricart-agrawala": RicartAgrawala}

__all__ = [
    "ALGORITHMS",
    "Centralized",
    "Exploration",
    "Lamport",
    "RicartAgrawala",
    "SeedSweep",
    "Verdict",
    "Violation",
    "check_all",
    "check_fairness",
    "check_liveness",
    "check_safety",
    "check_seeds",
    "cs_timeline",
    "draw_run",
    "explore",
    "message_counts",
    "message_diagram",
    "messages_per_entry",
    "metrics",
    "sync_delays",
    "waiting_times",
]
