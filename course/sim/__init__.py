"""A deterministic message-passing simulator for teaching distributed algorithms.

Write a process as a subclass of :class:`Node` (handlers ``on_start``, ``on_request_cs``,
``on_message``, ``on_exit_cs``, ``on_timer``; calls ``send``, ``broadcast``,
``set_timer``, ``enter_cs`` and the Lamport ``clock``), describe a scenario with
:class:`Config`, and run it: ``simulate(MyNode, Config(n=3), seed=1)`` returns a
:class:`Run` whose ``trace`` works with everything in ``course``. ``replay`` runs an
explicit schedule of :class:`Step` s (what the exhaustive explorer in ``course.mutex``
finds).
"""

from course.sim._config import Config, Constant, Crash, Delay, Exponential, Uniform
from course.sim._kernel import simulate
from course.sim._node import Message, Node, ProtocolError, node_state
from course.sim._run import CSInterval, Run
from course.sim._steps import Step, StepKernel, replay

__all__ = [
    "CSInterval",
    "Config",
    "Constant",
    "Crash",
    "Delay",
    "Exponential",
    "Message",
    "Node",
    "ProtocolError",
    "Run",
    "Step",
    "StepKernel",
    "Uniform",
    "node_state",
    "replay",
    "simulate",
]
