"""The JSON format: ``{"processes": [{"name": P, "events": [{"name": ..., "kind": ...,
"message": ..., "tag": ..., "time": ..., "sources": [...], "text": ..., "attrs": {...}}]}]}``.

Only ``name`` is required of an event; ``kind`` defaults to ``local``. Every other field is
checked for its type, unknown fields are refused, and nesting deeper than
:data:`MAX_DEPTH` is refused before parsing (a trace needs 5 levels).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from course._model import KINDS, TraceBase, TraceError, check_text

__all__ = ["MAX_DEPTH", "from_dict", "from_json", "to_dict"]

MAX_DEPTH = 16
T = TypeVar("T", bound=TraceBase)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EVENT_KEYS = {"name", "kind", "message", "tag", "time", "sources", "text", "attrs"}


def to_dict(t: TraceBase) -> dict[str, Any]:
    def ev(e: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"name": e.name, "kind": e.kind}
        if e.message is not None:
            d["message"] = e.message
        if e.tag is not None:
            d["tag"] = e.tag
        if e.time is not None:
            d["time"] = e.time
        if e.sources:
            d["sources"] = list(e.sources)
        if e.text is not None:
            d["text"] = e.text
        if e.attrs:
            d["attrs"] = dict(e.attrs)
        return d
    return {"processes": [{"name": p, "events": [ev(e) for e in t.events_of(p)]}
                          for p in t.processes]}


def _depth(text: str) -> int:
    brackets = _NOT_BRACKET.sub("", _STRINGS.sub("", text))
    depth = best = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return best


def from_json(cls: type[T], text: str | bytes) -> T:
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError as exc:
            raise TraceError(f"Trace JSON is not UTF-8: {exc}") from None
    if not isinstance(text, str):
        raise TypeError(f"Trace JSON must be a str, got {type(text).__name__}")
    if _depth(text) > MAX_DEPTH:
        raise TraceError(f"Trace JSON is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise TraceError(f"Trace JSON does not parse: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise TraceError(f"Trace JSON is nested more than {MAX_DEPTH} levels deep") from None
    return from_dict(cls, data)


def _no_constant(name: str) -> None:
    raise TraceError(f"Trace JSON holds {name}, which is not a number")


def from_dict(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise TraceError(f"Malformed trace JSON: the top level must be an object with field "
                         f"'processes', got {type(data).__name__}")
    if "processes" not in data:
        raise TraceError("Malformed trace JSON: missing or bad field 'processes'")
    extra = set(data) - {"processes"}
    if extra:
        raise TraceError(f"Malformed trace JSON: unknown top-level fields {sorted(extra)}")
    procs = data["processes"]
    if not isinstance(procs, list):
        raise TraceError(f"Malformed trace JSON: field 'processes' must be a list, got "
                         f"{type(procs).__name__}")
    t = cls()
    for i, proc in enumerate(procs):
        where = f"processes[{i}]"
        if not isinstance(proc, dict) or set(proc) != {"name", "events"}:
            raise TraceError(f"Malformed trace JSON: {where} must be an object with exactly "
                             f"the fields 'name' and 'events', got {proc!r:.80}")
        name, events = proc["name"], proc["events"]
        try:
            t.add_process(name)
        except TraceError as exc:
            raise TraceError(f"{where}: {exc}") from None
        if not isinstance(events, list):
            raise TraceError(f"Malformed trace JSON: {where}.events must be a list, got "
                             f"{type(events).__name__}")
        for j, e in enumerate(events):
            _event(t, name, e, f"{where}.events[{j}]")
    t.validate()
    return t


def _event(t: TraceBase, proc: str, e: Any, where: str) -> None:
    if not isinstance(e, dict):
        raise TraceError(f"Malformed trace JSON: {where} must be an object, got {e!r:.60}")
    extra = set(e) - _EVENT_KEYS
    if extra:
        raise TraceError(f"Malformed trace JSON: {where} has unknown fields {sorted(extra)}")
    if "name" not in e:
        raise TraceError(f"Malformed trace JSON: {where} has no field 'name'")
    name = e["name"]
    label = f"{where} (event {name!r:.40})"
    kind = e.get("kind", "local")
    if kind not in KINDS:
        raise TraceError(f"Event {name!r}: unknown kind {kind!r}")
    if kind != "local" and "message" not in e:
        raise TraceError(f"Event {name!r}: a {kind} needs a message")
    if kind == "local" and "message" in e:
        raise TraceError(f"Event {name!r}: a local event has no message")
    attrs = e.get("attrs", {})
    if not isinstance(attrs, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in attrs.items()):
        raise TraceError(f"{label}: attrs must be an object of strings, got {attrs!r:.60}")
    try:
        tag, time, src, text = t._checked_extras(name, e.get("tag"), e.get("time"),
                                                 e.get("sources", []), e.get("text"))
        for k in attrs:
            check_text(k, f"{label}: attribute name")
        t._add(proc, name, kind, e.get("message"), tag, time, None, src, text,
               tuple(sorted(attrs.items())))
    except TraceError as exc:
        raise TraceError(f"{where}: {exc}") from None
