"""Traces: the model (:mod:`course._model`) with its three formats and random generation.

Text format, one line per process (``x!m`` sends ``m``, ``x?m`` receives ``m``)::

    A: a b!m1
    B: c?m1 d!m2
    C: e f?m2

The formats live in :mod:`course._textfmt`, :mod:`course._jsonfmt` and
:mod:`course._shiviz`; this module gathers them as methods of :class:`Trace`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

from course import _jsonfmt, _shiviz, _textfmt
from course._model import Event, TraceBase, TraceError

__all__ = ["GOVECTOR_REGEX", "SHIVIZ_REGEX", "Event", "Trace", "TraceError", "random_trace"]

SHIVIZ_REGEX = _shiviz.SHIVIZ_REGEX
GOVECTOR_REGEX = _shiviz.GOVECTOR_REGEX


class Trace(TraceBase):
    """An execution: processes (in pid order), each with its ordered events.

    Build one with :meth:`parse`, :meth:`from_json`, :meth:`from_shiviz`, or the builder
    methods :meth:`local`, :meth:`send`, :meth:`receive`. Call :meth:`validate` (the parsers
    and the checkers do) before trusting it.
    """

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceBase):
            return NotImplemented
        return self.to_dict() == _jsonfmt.to_dict(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def validate(self) -> Trace:
        """Check every rule; raise :class:`TraceError` naming the first offender."""
        super().validate()
        return self

    # ----- text format ----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Trace:
        """Read the text format (one ``Process: events...`` line per process) and validate."""
        return _textfmt.parse(cls, text)

    def to_text(self) -> str:
        """The text format; ``Trace.parse(t.to_text()) == t`` up to tags, times, texts and
        attributes, which it drops."""
        return _textfmt.to_text(self)

    # ----- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _jsonfmt.to_dict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        return _jsonfmt.from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        return _jsonfmt.from_json(cls, text)

    # ----- ShiViz / GoVector ----------------------------------------------------------
    def to_shiviz(self) -> str:
        """A ShiViz log: the default regex on the first line (ShiViz's file layout), the
        delimiter line (empty, or for a trace without event texts ``TOKENS_MARK``, which
        matches no line but says the event lines are tokens), then each event's text (or
        token) and its ``host {clock}`` line, in a causal order.
        ``Trace.from_shiviz(log, processes=t.processes) == t`` (tags, times and attributes
        are dropped)."""
        return _shiviz.to_shiviz(self)

    @classmethod
    def from_shiviz(cls, text: str, processes: Iterable[str] = (), *,
                    regex: str | None = None, delimiter: str | None = None,
                    names: _shiviz.Names = "auto") -> Trace:
        """Read a ShiViz/GoVector log of one execution (see :mod:`course._shiviz`).

        ``regex``: ShiViz parser regex (named groups ``event``, ``host``, ``clock``, others
        kept as attributes); default: the log's first line if it is one, else GoVector's or
        ShiViz's default layout. Hosts get pids in order of first appearance, after any
        ``processes`` given (pass ``trace.processes`` to round-trip exactly)."""
        return _shiviz.read(cls, text, processes, regex=regex, delimiter=delimiter,
                            names=names)

    @classmethod
    def from_shiviz_executions(cls, text: str, *, regex: str | None = None,
                               delimiter: str | None = None,
                               names: _shiviz.Names = "auto") -> list[tuple[str, Trace]]:
        """Every execution of a multi-execution log, as ``(label, trace)`` pairs."""
        return _shiviz.executions(cls, text, regex=regex, delimiter=delimiter, names=names)


def random_trace(processes: int, events: int, *, seed: int, p_send: float = 0.3,
                 p_receive: float = 0.6, names: Iterable[str] | None = None) -> Trace:
    """A valid random trace with ``events`` events over ``processes`` processes.

    Deterministic in ``seed``. Each step picks a process; it receives a pending message
    addressed to it with probability ``p_receive`` (when one exists), else sends with
    probability ``p_send`` to another process, else does a local event. Some messages may
    stay in flight. Process names default to ``P0, P1, ...``; events are ``e0, e1, ...``
    and messages ``m0, m1, ...``.
    """
    if processes < 1:
        raise ValueError(f"Need at least one process, got {processes}")
    if events < 0:
        raise ValueError(f"Negative number of events {events}")
    rng = random.Random(seed)
    pnames = list(names) if names is not None else [f"P{i}" for i in range(processes)]
    if len(pnames) != processes:
        raise ValueError(f"{len(pnames)} names for {processes} processes")
    t = Trace(pnames)
    pending: list[list[str]] = [[] for _ in range(processes)]
    n_msg = 0
    for k in range(events):
        p = rng.randrange(processes)
        if pending[p] and rng.random() < p_receive:
            msg = pending[p].pop(rng.randrange(len(pending[p])))
            t._add(pnames[p], f"e{k}", "receive", msg, None, None, None)
        elif processes > 1 and rng.random() < p_send:
            q = rng.randrange(processes - 1)
            q += q >= p
            msg = f"m{n_msg}"
            n_msg += 1
            pending[q].append(msg)
            t._add(pnames[p], f"e{k}", "send", msg, None, None, None)
        else:
            t._add(pnames[p], f"e{k}", "local", None, None, None, None)
    return t
