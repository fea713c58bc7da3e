"""The text format: one line per process, ``Process: token token ...``.

A token is ``name`` (local), ``name!m`` (sends m) or ``name?m`` (receives m), followed by
``<source`` for each event of another process it directly follows (imported logs)::

    A: a b!m1
    B: c?m1 d!m2
    C: e f?m2<b

``#`` starts a comment (names never contain it). One tokenizer, :func:`tokens`, reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar

from course._model import Kind, TraceBase, TraceError

__all__ = ["parse", "to_text", "tokens"]

_N = r"[^\s!?:#<]+"
_TOKEN = re.compile(rf"({_N})(?:([!?])({_N}))?((?:<{_N})*)")
_PROC = re.compile(_N)

T = TypeVar("T", bound=TraceBase)


def read_token(tok: str) -> tuple[str, Kind, str | None, tuple[str, ...]] | None:
    """``(name, kind, message, sources)`` of one token, or None if it is not one."""
    m = _TOKEN.fullmatch(tok)
    if m is None:
        return None
    name, op, msg, src = m.groups()
    kind: Kind = "local" if op is None else ("send" if op == "!" else "receive")
    return name, kind, msg, tuple(src.split("<")[1:]) if src else ()


def tokens(text: str) -> Iterator[tuple[int, str, list[tuple[str, Kind, str | None,
                                                                  tuple[str, ...]]]]]:
    """``(line number, process, [(name, kind, message, sources), ...])`` per process line."""
    if not isinstance(text, str):
        raise TypeError(f"A trace text must be a str, got {type(text).__name__}")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        proc, colon, rest = line.partition(":")
        proc = proc.strip()
        if not colon:
            raise TraceError(f"Line {lineno}: expected 'Process: events...', got {raw!r}")
        if _PROC.fullmatch(proc) is None:
            raise TraceError(f"Line {lineno}: Bad process name {proc!r}")
        evs = []
        for tok in rest.split():
            read = read_token(tok)
            if read is None:
                raise TraceError(f"Line {lineno}: cannot read event {tok!r}"
                                 f" (expected name, name!msg or name?msg, then <source ...)")
            evs.append(read)
        yield lineno, proc, evs


def parse(cls: type[T], text: str) -> T:
    t = cls()
    for lineno, proc, evs in tokens(text):
        try:
            t.add_process(proc)
        except TraceError as exc:
            raise TraceError(f"Line {lineno}: {exc}") from None
        for name, kind, msg, src in evs:
            if len(set(src)) != len(src):
                raise TraceError(f"Line {lineno}: event {name!r} lists a source twice")
            t._add(proc, name, kind, msg, None, None, lineno, src)
    t.validate()
    return t


def to_text(t: TraceBase) -> str:
    return "\n".join(f"{p}: " + " ".join(e.token for e in t.events_of(p))
                     for p in t.processes) + "\n"

