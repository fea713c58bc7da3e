"""Traces: processes, their events in order, and the messages between them.

A trace is what one run of a distributed system leaves behind. Rules:

* A process is a named line of events; its id (pid) is its position in the trace.
* Every event has a unique name and is one of three kinds: ``local``, ``send`` (of one
  message) or ``receive`` (of one message).
* A message is sent exactly once and received at most once. A message that is sent but
  never received is legal (in flight or lost), as in real logs. A receive whose message is
  never sent is an error.
* The events must admit a causal order: no process may receive a message before it sends
  it, and the send/receive edges may not form a cycle.

Text format, one line per process (``x!m`` sends ``m``, ``x?m`` receives ``m``)::

    A: a b!m1
    B: c?m1 d!m2
    C: e f?m2
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Event", "Trace", "TraceError", "random_trace"]

Kind = Literal["local", "send", "receive"]
_NAME = re.compile(r"^[^\s!?:]+$")


class TraceError(ValueError):
    """A trace that breaks one of the rules above; the message names the offender."""


@dataclass(frozen=True)
class Event:
    """One event: its name, process, position on the process, kind and message.

    ``tag`` is an optional label (e.g. ``"cs-enter"``, or a message type such as
    ``"REQUEST"``); ``time`` an optional simulated or physical time; ``line`` the text line
    the event was parsed from (for error messages).
    """

    name: str
    process: str
    index: int
    kind: Kind = "local"
    message: str | None = None
    tag: str | None = None
    time: float | None = None
    line: int | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        text = {"local": self.name, "send": f"{self.name}!{self.message}",
                "receive": f"{self.name}?{self.message}"}[self.kind]
        return f"Event({text} on {self.process}#{self.index})"

    @property
    def token(self) -> str:
        """The event as written in the text format."""
        if self.kind == "send":
            return f"{self.name}!{self.message}"
        if self.kind == "receive":
            return f"{self.name}?{self.message}"
        return self.name


class Trace:
    """An execution: processes (in pid order), each with its ordered events.

    Build one with :meth:`parse`, :meth:`from_json`, :meth:`from_shiviz`, or the builder
    methods :meth:`local`, :meth:`send`, :meth:`receive`. Call :meth:`validate` (the parsers
    and the checkers do) before trusting it.
    """

    def __init__(self, processes: Iterable[str] = ()) -> None:
        self._procs: dict[str, list[Event]] = {}
        self._events: dict[str, Event] = {}
        for p in processes:
            self.add_process(p)

    # ----- building -------------------------------------------------------------------
    def add_process(self, name: str) -> str:
        """Add an (empty) process; its pid is the number of processes before it."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise TraceError(f"Bad process name {name!r}")
        if name in self._procs:
            raise TraceError(f"Duplicate process {name!r}")
        self._procs[name] = []
        return name

    def _add(self, process: str, name: str, kind: Kind, message: str | None,
             tag: str | None, time: float | None, line: int | None) -> Event:
        if process not in self._procs:
            raise TraceError(f"Unknown process {process!r} for event {name!r}"
                             f" (processes: {list(self._procs)})")
        if not isinstance(name, str) or not _NAME.match(name):
            raise TraceError(f"Bad event name {name!r} on process {process!r}")
        if name in self._events:
            where = self._events[name]
            raise TraceError(f"Duplicate event name {name!r} on process {process!r}"
                             f"{_at(line)}; already used on {where.process!r}{_at(where.line)}")
        if message is not None and (not isinstance(message, str) or not _NAME.match(message)):
            raise TraceError(f"Bad message name {message!r} in event {name!r}{_at(line)}")
        ev = Event(name, process, len(self._procs[process]), kind, message, tag, time, line)
        self._procs[process].append(ev)
        self._events[name] = ev
        return ev

    def local(self, process: str, name: str, *, tag: str | None = None,
              time: float | None = None) -> Event:
        """Append a local event to ``process``."""
        return self._add(process, name, "local", None, tag, time, None)

    def send(self, process: str, name: str, message: str, *, tag: str | None = None,
             time: float | None = None) -> Event:
        """Append event ``name`` on ``process`` that sends ``message``."""
        return self._add(process, name, "send", message, tag, time, None)

    def receive(self, process: str, name: str, message: str, *, tag: str | None = None,
                time: float | None = None) -> Event:
        """Append event ``name`` on ``process`` that receives ``message``."""
        return self._add(process, name, "receive", message, tag, time, None)

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
        if process not in self._procs:
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
        return name in self._events

    def __getitem__(self, name: str) -> Event:
        return self.event(name)

    def event(self, name: str) -> Event:
        try:
            return self._events[name]
        except (KeyError, TypeError):
            raise TraceError(f"Unknown event {name!r}") from None

    def sends(self) -> dict[str, Event]:
        """Message name → its send event."""
        return {e.message: e for e in self._events.values() if e.kind == "send"}  # type: ignore[misc]

    def receives(self) -> dict[str, Event]:
        """Message name → its receive event."""
        return {e.message: e for e in self._events.values() if e.kind == "receive"}  # type: ignore[misc]

    def in_flight(self) -> list[str]:
        """Messages sent but never received."""
        rec = self.receives()
        return [m for m in self.sends() if m not in rec]

    def __repr__(self) -> str:
        n_msgs = len(self.sends())
        return (f"Trace({len(self._procs)} processes, {len(self)} events, "
                f"{n_msgs} messages)")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # ----- validation -----------------------------------------------------------------
    def validate(self) -> Trace:
        """Check every rule; raise :class:`TraceError` naming the first offender."""
        sends: dict[str, Event] = {}
        recvs: dict[str, Event] = {}
        for e in self.events:
            if e.kind == "send":
                if e.message in sends:
                    first = sends[e.message]
                    raise TraceError(f"Message {e.message!r} sent twice: by {first.name!r}"
                                     f"{_at(first.line)} and by {e.name!r}{_at(e.line)}")
                sends[e.message] = e  # type: ignore[index]
            elif e.kind == "receive":
                if e.message in recvs:
                    first = recvs[e.message]
                    raise TraceError(f"Message {e.message!r} received twice: by "
                                     f"{first.name!r}{_at(first.line)} and by {e.name!r}"
                                     f"{_at(e.line)}")
                recvs[e.message] = e  # type: ignore[index]
        for m, r in recvs.items():
            s = sends.get(m)
            if s is None:
                raise TraceError(f"Receive {r.name!r}{_at(r.line)} of message {m!r} "
                                 f"that is never sent")
            if s.process == r.process and r.index < s.index:
                raise TraceError(f"Message {m!r} is received by {r.name!r} before it is sent "
                                 f"by {s.name!r} on the same process {r.process!r}{_at(r.line)}")
        self.causal_order()  # raises on a cycle
        return self

    def causal_order(self) -> list[Event]:
        """A topological order of the events, in O(events).

        Each process runs as far as it can; a receive waits until its send is placed, and
        placing a send wakes the process waiting for it. Raises :class:`TraceError` naming
        the stuck receives if the events form a cycle.
        """
        sends = self.sends()
        procs = self._procs
        pos = dict.fromkeys(procs, 0)
        placed: set[str] = set()
        waiting: dict[str, str] = {}  # message -> process blocked on receiving it
        ready = list(reversed(procs))
        order: list[Event] = []
        while ready:
            p = ready.pop()
            evs = procs[p]
            i = pos[p]
            while i < len(evs):
                e = evs[i]
                if e.kind == "receive":
                    s = sends.get(e.message)  # type: ignore[arg-type]
                    if s is None:
                        raise TraceError(f"Receive {e.name!r}{_at(e.line)} of message "
                                         f"{e.message!r} that is never sent")
                    if s.name not in placed:
                        waiting[e.message] = p  # type: ignore[index]
                        break
                order.append(e)
                placed.add(e.name)
                i += 1
                if e.kind == "send" and e.message in waiting:
                    ready.append(waiting.pop(e.message))  # type: ignore[arg-type]
            pos[p] = i
        if len(order) < len(self._events):
            stuck = [procs[p][pos[p]] for p in procs if pos[p] < len(procs[p])]
            desc = ", ".join(f"{e.name}?{e.message} waits for send "
                             f"{sends[e.message].name!r}" for e in stuck  # type: ignore[index]
                             )
            raise TraceError(f"Cycle: no causal order exists ({desc})")
        return order

    # ----- text format ----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Trace:
        """Read the text format (one ``Process: events...`` line per process) and validate."""
        t = cls()
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" not in line:
                raise TraceError(f"Line {lineno}: expected 'Process: events...', got {raw!r}")
            proc, rest = (s.strip() for s in line.split(":", 1))
            try:
                t.add_process(proc)
            except TraceError as exc:
                raise TraceError(f"Line {lineno}: {exc}") from None
            for tok in rest.split():
                m = re.fullmatch(r"([^\s!?:]+)(?:([!?])([^\s!?:]+))?", tok)
                if not m:
                    raise TraceError(f"Line {lineno}: cannot read event {tok!r}"
                                     f" (expected name, name!msg or name?msg)")
                name, op, msg = m.groups()
                kind: Kind = "local" if op is None else ("send" if op == "!" else "receive")
                t._add(proc, name, kind, msg, None, None, lineno)
        return t.validate()

    def to_text(self) -> str:
        """The text format; ``Trace.parse(t.to_text()) == t`` (tags and times are dropped)."""
        return "\n".join(f"{p}: " + " ".join(e.token for e in evs)
                         for p, evs in self._procs.items()) + "\n"

    # ----- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def ev(e: Event) -> dict[str, Any]:
            d: dict[str, Any] = {"name": e.name, "kind": e.kind}
            if e.message is not None:
                d["message"] = e.message
            if e.tag is not None:
                d["tag"] = e.tag
            if e.time is not None:
                d["time"] = e.time
            return d
        return {"processes": [{"name": p, "events": [ev(e) for e in evs]}
                              for p, evs in self._procs.items()]}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        t = cls()
        try:
            for proc in data["processes"]:
                t.add_process(proc["name"])
                for e in proc["events"]:
                    kind = e.get("kind", "local")
                    if kind not in ("local", "send", "receive"):
                        raise TraceError(f"Event {e.get('name')!r}: unknown kind {kind!r}")
                    if kind != "local" and "message" not in e:
                        raise TraceError(f"Event {e.get('name')!r}: a {kind} needs a message")
                    t._add(proc["name"], e["name"], kind, e.get("message"), e.get("tag"),
                           e.get("time"), None)
        except (KeyError, TypeError) as exc:
            raise TraceError(f"Malformed trace JSON: missing or bad field {exc}") from None
        return t.validate()

    @classmethod
    def from_json(cls, text: str) -> Trace:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"Trace JSON does not parse: {exc}") from None
        return cls.from_dict(data)

    # ----- ShiViz / GoVector ----------------------------------------------------------
    def to_shiviz(self) -> str:
        """A ShiViz log (vector clocks as JSON maps); paste it into ShiViz with the regex
        ``(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})``."""
        from course._clocks import vector_timestamps

        vts = vector_timestamps(self)
        lines = [SHIVIZ_REGEX, ""]
        for e in self.causal_order():
            vc = {p: c for p, c in zip(self.processes, vts[e.name], strict=True) if c}
            lines.append(e.token)
            lines.append(f"{e.process} {json.dumps(vc)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_shiviz(cls, text: str, processes: Iterable[str] = ()) -> Trace:
        """Read a ShiViz/GoVector log written by :meth:`to_shiviz` (or by GoVector with
        event lines in ``name``, ``name!msg``, ``name?msg`` form; other event text becomes a
        local event). Send/receive pairs are recovered from the message names.

        A log does not record process order: hosts get pids in order of first appearance,
        after any ``processes`` given (pass ``trace.processes`` to round-trip exactly)."""
        lines = [ln for ln in text.splitlines()]
        if lines and lines[0].startswith("(?<"):
            lines = lines[1:]
        lines = [ln for ln in lines if ln.strip()]
        if len(lines) % 2:
            raise TraceError(f"ShiViz log has an event line without a host/clock line: "
                             f"{lines[-1]!r}")
        t = cls(processes)
        last: dict[str, int] = {}
        for i in range(0, len(lines), 2):
            ev_line, host_line = lines[i].strip(), lines[i + 1].strip()
            m = re.fullmatch(r"(\S*) (\{.*\})", host_line)
            if not m:
                raise TraceError(f"ShiViz line {i + 2}: expected 'host {{clock}}', "
                                 f"got {host_line!r}")
            host, clock_text = m.groups()
            try:
                clock = json.loads(clock_text)
            except json.JSONDecodeError:
                raise TraceError(f"ShiViz line {i + 2}: clock is not JSON: "
                                 f"{clock_text!r}") from None
            own = clock.get(host, 0)
            if own <= last.get(host, 0):
                raise TraceError(f"ShiViz line {i + 2}: clock of {host!r} does not increase "
                                 f"({own} after {last.get(host, 0)})")
            last[host] = own
            if host not in t._procs:
                t.add_process(host)
            tm = re.fullmatch(r"([^\s!?:]+)(?:([!?])([^\s!?:]+))?", ev_line)
            if tm:
                name, op, msg = tm.groups()
            else:
                name, op, msg = f"{host}.{own}", None, None
            kind: Kind = "local" if op is None else ("send" if op == "!" else "receive")
            t._add(host, name, kind, msg, None, None, i + 1)
        return t.validate()


SHIVIZ_REGEX = r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})"


def _at(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""


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
