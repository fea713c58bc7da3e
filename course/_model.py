"""The trace model: events, processes, the edges between them, and the rules they obey.

A trace is what one run of a distributed system leaves behind. Rules:

* A process is a named line of events; its id (pid) is its position in the trace.
* Every event has a unique name and is one of three kinds: ``local``, ``send`` (of one
  message) or ``receive`` (of one message).
* A message is sent exactly once and received at most once. A message that is sent but
  never received is legal (in flight or lost), as in real logs. A receive whose message is
  never sent is an error.
* An event may also list ``sources``: events on *other* processes it directly follows. This
  is how an imported ShiViz/GoVector log is represented exactly: such logs record vector
  clocks, not messages, and one event can depend on several hosts at once.
* The events must admit a causal order: no event may come before a send it receives or a
  source it follows, and these edges may not form a cycle.

Names (of processes, events and messages) follow one rule everywhere: a non-empty string
with no whitespace and none of ``! ? : # <`` (``!``/``?``/``<`` separate a token's parts in
the text format, ``:`` ends a process name and ``#`` starts a comment).

This module imports nothing else from ``course``; the formats (:mod:`course._textfmt`,
:mod:`course._jsonfmt`, :mod:`course._shiviz`) and the clocks build on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["NAME_RULE", "Event", "Kind", "TraceBase", "TraceError", "check_name", "check_text"]

Kind = Literal["local", "send", "receive"]
KINDS: tuple[Kind, ...] = ("local", "send", "receive")
_NAME = re.compile(r"[^\s!?:#<]+")
NAME_RULE = "a non-empty string without whitespace or any of ! ? : # <"


class TraceError(ValueError):
    """A trace that breaks one of the rules above; the message names the offender."""


def is_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: object, what: str) -> str:
    """``name`` if it follows the name rule, else a :class:`TraceError` about ``what``."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise TraceError(f"Bad {what} {name!r}: a name is {NAME_RULE}")
    return name


def check_text(text: object, what: str) -> str | None:
    """An event text/tag: None or a one-line string."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise TraceError(f"{what} must be a string, got {type(text).__name__} {text!r:.60}")
    if text and text.splitlines() != [text]:
        raise TraceError(f"{what} {text!r:.60} spans several lines; it must be one line")
    return text


def _check_time(time: object, what: str) -> float | None:
    if time is None:
        return None
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise TraceError(f"{what}: time must be a finite number, got {time!r:.60}")
    return time


@dataclass(frozen=True)
class Event:
    """One event: its name, process, position on the process, kind and message.

    ``tag`` is an optional label (e.g. ``"cs-enter"``, or a message type such as
    ``"REQUEST"``); ``time`` an optional simulated or physical time; ``line`` the text line
    the event was parsed from (for error messages). ``sources`` are events on other processes
    that this event directly follows (an imported log's edges), ``text`` the event's text in
    an imported log (a label, shown in diagrams; not an identity) and ``attrs`` any other
    fields the log's regex captured, as sorted ``(key, value)`` pairs.
    """

    name: str
    process: str
    index: int
    kind: Kind = "local"
    message: str | None = None
    tag: str | None = None
    time: float | None = None
    line: int | None = field(default=None, compare=False)
    sources: tuple[str, ...] = ()
    text: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return f"Event({self.token} on {self.process}#{self.index})"

    @property
    def token(self) -> str:
        """The event as written in the text format (``name``, ``name!m``, ``name?m``, then
        ``<source`` for each source)."""
        tok = self.name
        if self.kind == "send":
            tok = f"{self.name}!{self.message}"
        elif self.kind == "receive":
            tok = f"{self.name}?{self.message}"
        return tok + "".join(f"<{s}" for s in self.sources)

    @property
    def attributes(self) -> dict[str, str]:
        return dict(self.attrs)


def at(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""


class TraceBase:
    """An execution: processes (in pid order), each with its ordered events.

    The model only: building, reading, validation and the causal order. :class:`course.Trace`
    adds the formats.
    """

    def __init__(self, processes: Iterable[str] = ()) -> None:
        self._procs: dict[str, list[Event]] = {}
        self._events: dict[str, Event] = {}
        self._sources = 0  # number of events with sources
        if isinstance(processes, str):
            raise TypeError(
                f"processes must be an iterable of names, not the string {processes!r:.60}"
            )
        for p in processes:
            self.add_process(p)

    # ----- building -------------------------------------------------------------------
    def add_process(self, name: str) -> str:
        """Add an (empty) process; its pid is the number of processes before it."""
        check_name(name, "process name")
        if name in self._procs:
            raise TraceError(f"Duplicate process {name!r}")
        self._procs[name] = []
        return name

    def _add(
        self,
        process: str,
        name: str,
        kind: Kind,
        message: str | None,
        tag: str | None,
        time: float | None,
        line: int | None,
        sources: tuple[str, ...] = (),
        text: str | None = None,
        attrs: tuple[tuple[str, str], ...] = (),
    ) -> Event:
        evs = self._procs.get(process) if isinstance(process, str) else None
        if evs is None:
            raise TraceError(
                f"Unknown process {process!r} for event {name!r} (processes: {list(self._procs)})"
            )
        if not is_name(name):
            raise TraceError(
                f"Bad event name {name!r} on process {process!r}{at(line)}: a name is {NAME_RULE}"
            )
        if name in self._events:
            where = self._events[name]
            raise TraceError(
                f"Duplicate event name {name!r} on process {process!r}"
                f"{at(line)}; already used on {where.process!r}{at(where.line)}"
            )
        if kind == "local":
            if message is not None:
                raise TraceError(f"Local event {name!r}{at(line)} has a message {message!r}")
        elif kind in ("send", "receive"):
            if not is_name(message):
                raise TraceError(
                    f"Bad message name {message!r} in event {name!r}{at(line)}:"
                    f" a name is {NAME_RULE}"
                )
        else:
            raise TraceError(f"Event {name!r}{at(line)}: unknown kind {kind!r}")
        ev = Event(name, process, len(evs), kind, message, tag, time, line, sources, text, attrs)
        evs.append(ev)
        self._events[name] = ev
        if sources:
            self._sources += 1
        return ev

    def _extend_checked_elsewhere(self, process: str, events: list[Event]) -> None:
        """Append events to ``process`` whose names, indexes and fields the caller has
        checked (a bulk import); :meth:`validate` still checks the edges."""
        self._procs[process].extend(events)
        self._events.update([(e.name, e) for e in events])
        self._sources += sum([1 for e in events if e.sources])

    def _checked_extras(
        self, name: str, tag: object, time: object, sources: object, text: object
    ) -> tuple[str | None, float | None, tuple[str, ...], str | None]:
        what = f"Event {name!r}"
        tag_ = check_text(tag, f"{what}: tag")
        time_ = _check_time(time, what)
        if isinstance(sources, str) or not isinstance(sources, (tuple, list)):
            raise TraceError(f"{what}: sources must be a list of event names, got {sources!r:.60}")
        src = tuple(sources)
        for s in src:
            check_name(s, f"source of event {name!r}")
        if len(set(src)) != len(src):
            raise TraceError(f"{what}: a source is listed twice in {list(src)}")
        return tag_, time_, src, check_text(text, f"{what}: text")

    def local(
        self,
        process: str,
        name: str,
        *,
        tag: str | None = None,
        time: float | None = None,
        sources: Iterable[str] = (),
        text: str | None = None,
    ) -> Event:
        """Append a local event to ``process`` (``sources``: events it directly follows)."""
        tag_, time_, src, text_ = self._checked_extras(name, tag, time, _seq(sources), text)
        return self._add(process, name, "local", None, tag_, time_, None, src, text_)

    def send(
        self,
        process: str,
        name: str,
        message: str,
        *,
        tag: str | None = None,
        time: float | None = None,
        sources: Iterable[str] = (),
        text: str | None = None,
    ) -> Event:
        """Append event ``name`` on ``process`` that sends ``message``."""
        tag_, time_, src, text_ = self._checked_extras(name, tag, time, _seq(sources), text)
        return self._add(process, name, "send", message, tag_, time_, None, src, text_)

    def receive(
        self,
        process: str,
        name: str,
        message: str,
        *,
        tag: str | None = None,
        time: float | None = None,
        sources: Iterable[str] = (),
        text: str | None = None,
    ) -> Event:
        """Append event ``name`` on ``process`` that receives ``message``."""
        tag_, time_, src, text_ = self._checked_extras(name, tag, time, _seq(sources), text)
        return self._add(process, name, "receive", message, tag_, time_, None, src, text_)

    # ----- reading --------------------------------------------------------------------
    @property
    def processes(self) -> tuple[str, ...]:
        """Process names in pid order."""
        return tuple(self._procs)

    def pid(self, process: str) -> int:
        """The id of a process: its position in the trace."""
        try:
            return list(self._procs).index(process)
        except ValueError:
            raise TraceError(f"Unknown process {process!r}") from None

    def events_of(self, process: str) -> tuple[Event, ...]:
        if not isinstance(process, str) or process not in self._procs:
            raise TraceError(f"Unknown process {process!r}")
        return tuple(self._procs[process])

    @property
    def events(self) -> tuple[Event, ...]:
        """All events, process by process (not a causal order)."""
        return tuple(e for evs in self._procs.values() for e in evs)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._events

    def __getitem__(self, name: str) -> Event:
        return self.event(name)

    def event(self, name: str) -> Event:
        try:
            return self._events[name]
        except (KeyError, TypeError):
            raise TraceError(f"Unknown event {name!r}") from None

    @property
    def has_sources(self) -> bool:
        """Whether any event lists sources (an imported log's edges)."""
        return self._sources > 0

    def sends(self) -> dict[str, Event]:
        """Message name → its send event."""
        return {
            e.message: e
            for e in self._events.values()
            if e.kind == "send" and e.message is not None
        }

    def receives(self) -> dict[str, Event]:
        """Message name → its receive event."""
        return {
            e.message: e
            for e in self._events.values()
            if e.kind == "receive" and e.message is not None
        }

    def in_flight(self) -> list[str]:
        """Messages sent but never received."""
        rec = self.receives()
        return [m for m in self.sends() if m not in rec]

    def edges(self) -> list[tuple[str, str, str | None]]:
        """Every cross-process edge ``(earlier, later, message)``: send → receive of each
        delivered message, then source → event for each source (message None)."""
        sends = self.sends()
        out: list[tuple[str, str, str | None]] = [
            (sends[m].name, r.name, m) for m, r in self.receives().items() if m in sends
        ]
        out += [(s, e.name, None) for e in self._events.values() for s in e.sources]
        return out

    def __repr__(self) -> str:
        n_msgs = len(self.sends())
        n_src = sum(len(e.sources) for e in self._events.values())
        extra = f", {n_src} log edges" if n_src else ""
        return f"Trace({len(self._procs)} processes, {len(self)} events, {n_msgs} messages{extra})"

    # ----- validation -----------------------------------------------------------------
    def validate(self) -> TraceBase:
        """Check every rule; raise :class:`TraceError` naming the first offender."""
        sends: dict[str, Event] = {}
        recvs: dict[str, Event] = {}
        events = self._events
        for e in self.events:
            m = e.message
            if e.kind == "send" and m is not None:
                if m in sends:
                    first = sends[m]
                    raise TraceError(
                        f"Message {m!r} sent twice: by {first.name!r}"
                        f"{at(first.line)} and by {e.name!r}{at(e.line)}"
                    )
                sends[m] = e
            elif e.kind == "receive" and m is not None:
                if m in recvs:
                    first = recvs[m]
                    raise TraceError(
                        f"Message {m!r} received twice: by "
                        f"{first.name!r}{at(first.line)} and by {e.name!r}"
                        f"{at(e.line)}"
                    )
                recvs[m] = e
            for s in e.sources:
                src = events.get(s)
                if src is None:
                    raise TraceError(
                        f"Event {e.name!r}{at(e.line)} follows source {s!r} that is not an event"
                    )
                if src.process == e.process:
                    raise TraceError(
                        f"Event {e.name!r}{at(e.line)} lists source {s!r} on "
                        f"its own process {e.process!r}; a source is on "
                        f"another process"
                    )
        for m, r in recvs.items():
            snd = sends.get(m)
            if snd is None:
                raise TraceError(
                    f"Receive {r.name!r}{at(r.line)} of message {m!r} that is never sent"
                )
            if snd.process == r.process and r.index < snd.index:
                raise TraceError(
                    f"Message {m!r} is received by {r.name!r} before it is sent "
                    f"by {snd.name!r} on the same process {r.process!r}"
                    f"{at(r.line)}"
                )
        self.causal_order()  # raises on a cycle
        return self

    def causal_order(self) -> list[Event]:
        """A topological order of the events, in O(events + edges).

        Each process runs as far as it can; an event waits until the send it receives and
        every source it follows are placed, and placing an event wakes the processes waiting
        for it. Raises :class:`TraceError` naming the stuck events if the edges form a cycle.
        """
        sends = self.sends()
        procs = self._procs
        pos = dict.fromkeys(procs, 0)
        placed: set[str] = set()
        waiting: dict[str, list[str]] = {}  # event name -> processes blocked on it
        blocker: dict[str, str] = {}  # process -> the event it waits for
        ready = list(reversed(procs))
        order: list[Event] = []
        append, add = order.append, placed.add
        while ready:
            p = ready.pop()
            evs = procs[p]
            i = pos[p]
            n = len(evs)
            while i < n:
                e = evs[i]
                dep = None
                if e.kind == "receive":
                    s = sends.get(e.message) if e.message is not None else None
                    if s is None:
                        raise TraceError(
                            f"Receive {e.name!r}{at(e.line)} of message "
                            f"{e.message!r} that is never sent"
                        )
                    if s.name not in placed:
                        dep = s.name
                if dep is None and e.sources:
                    for src in e.sources:
                        if src not in placed:
                            if src not in self._events:
                                raise TraceError(
                                    f"Event {e.name!r}{at(e.line)} follows "
                                    f"source {src!r} that is not an event"
                                )
                            dep = src
                            break
                if dep is not None:
                    waiting.setdefault(dep, []).append(p)
                    blocker[p] = dep
                    break
                append(e)
                add(e.name)
                i += 1
                if waiting:
                    woken = waiting.pop(e.name, None)
                    if woken:
                        ready.extend(woken)
            pos[p] = i
        if len(order) < len(self._events):
            stuck = [procs[p][pos[p]] for p in procs if pos[p] < len(procs[p])]
            parts = []
            for e in stuck:
                dep = blocker[e.process]
                s = sends.get(e.message) if e.message is not None else None
                what = (
                    "send" if e.kind == "receive" and s is not None and s.name == dep else "source"
                )
                head = e.token.split("<", 1)[0]
                parts.append(f"{head} waits for {what} {dep!r}")
            desc = ", ".join(parts)
            raise TraceError(f"Cycle: no causal order exists ({desc})")
        return order


def _seq(items: Iterable[str]) -> object:
    if isinstance(items, str) or not isinstance(items, Iterable):
        return items  # reported by _checked_extras
    return list(items)
