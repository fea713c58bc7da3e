"""ShiViz and GoVector logs, read the way ShiViz reads them, and written so ShiViz reads them.

A log is text matched by a *parser regex* with the named groups ``event`` (the event's
text), ``host`` and ``clock`` (a JSON map host → count); any other named group is kept as
an event attribute. Regexes use ShiViz's JavaScript syntax, ``(?<name>...)``. Without one,
the regex is taken from the log's first line when that line is one (ShiViz's file layout:
regex, then the execution delimiter or an empty line, then the log), else GoVector's layout
(host line first) when the log starts with a host line, else ShiViz's default
(:data:`SHIVIZ_REGEX`). A *delimiter* regex splits a file into several executions; its
``trace`` group, if any, labels them.

Causality comes from the vector clocks, as ShiViz infers it: a host's events are ordered by
its own entry, which must run 1, 2, 3, ...; an event whose clock advances another host's
entry beyond what its own host had seen follows that host's event with that count (the
edges implied by other such edges are dropped). The clocks must then be exactly the vector
clocks of that graph, so ``happens_before`` of the imported trace equals the componentwise
order of the log's clocks.

Event text is a label: events are named ``host.k`` (its k-th event), the text kept in
``Event.text``. A regex group ``name`` provides names instead. The one other exception is
a log that says its event lines are tokens (:data:`TOKENS_MARK` as its delimiter line, as
:func:`to_shiviz` writes for a trace without event texts) whose every event text is a
token (``name``, ``name!m``, ``name?m``, ``<source``...), with unique names, and whose
vector clocks are exactly the log's: it is read back as that very trace. Pass
``names="generate"`` to always generate names.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter, gt
from typing import Any, Literal, TypeVar

from course._clocks import vector_timestamps
from course._model import Event, TraceBase, TraceError, check_text, is_name
from course._textfmt import read_token

__all__ = ["GOVECTOR_REGEX", "SHIVIZ_REGEX", "TOKENS_MARK", "executions", "read", "to_shiviz"]

SHIVIZ_REGEX = r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})"
GOVECTOR_REGEX = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)"
#: The delimiter line :func:`to_shiviz` writes for a trace whose events have no text: a
#: regex that matches no line of the log (so ShiViz sees one execution) and that tells
#: :func:`read` the event lines are the trace's own tokens (names, messages, sources).
TOKENS_MARK = r"^# event lines are course.Trace tokens$"
_HOST_LINE = re.compile(r"\S* \{.*\}")
_JS_GROUP = re.compile(r"\(\?<(?![=!])")
_JS_BACKREF = re.compile(r"\\k<(\w+)>")

T = TypeVar("T", bound=TraceBase)
Names = Literal["auto", "generate"]


@dataclass(slots=True)
class _Rec:
    host: str
    clock: dict[str, int]
    own: int
    text: str
    attrs: tuple[tuple[str, str], ...]
    line: int
    total: int


_own = attrgetter("own")


def compile_regex(js: str, what: str = "parser regex") -> re.Pattern[str]:
    """A ShiViz (JavaScript) regex as a Python pattern, multi-line like ShiViz's."""
    if not isinstance(js, str):
        raise TypeError(f"The {what} must be a str, got {type(js).__name__}")
    py = _JS_BACKREF.sub(r"(?P=\1)", _JS_GROUP.sub("(?P<", js))
    try:
        return re.compile(py, re.MULTILINE)
    except re.error as exc:
        raise TraceError(f"The {what} {js!r} does not compile: {exc}") from None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise TraceError(f"host {k!r} appears twice in the clock")
            seen.add(k)
    return d


def _constant(name: str) -> None:
    raise TraceError(f"{name} is not a clock value")


_DECODER = json.JSONDecoder(parse_constant=_constant)
_CHECKED = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def _clock(text: str, host: str, line: int, known: set[str]) -> dict[str, int]:
    """The clock of one event; ``known``: host names already checked (grows)."""
    where = f"Line {line} (host {host!r})"
    try:
        raw = _DECODER.decode(text)
        if isinstance(raw, dict) and len(raw) != text.count(":"):
            raw = _CHECKED.decode(text)  # find a repeated host (or a ':' in a name)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{where}: the clock is not JSON: {text!r:.80} ({exc})") from None
    except TraceError as exc:
        raise TraceError(f"{where}: bad clock {text!r:.80}: {exc}") from None
    if not isinstance(raw, dict):
        raise TraceError(f"{where}: the clock must be a JSON map host → count, got {text!r:.80}")
    values = raw.values()
    if not raw or set(map(type, values)) != {int} or min(values) < 0:
        for h, v in raw.items():
            if type(v) is not int or v < 0:
                raise TraceError(
                    f"{where}: clock entry {h!r}: {v!r:.40} is not a non-negative integer"
                )
    if not known.issuperset(raw):
        for h in raw:
            if h not in known:
                if not is_name(h):
                    raise TraceError(
                        f"{where}: clock entry {h!r} is not a valid host name "
                        f"(no whitespace or ! ? : # <)"
                    )
                known.add(h)
    clock: dict[str, int] = raw if 0 not in values else {h: v for h, v in raw.items() if v}
    if host not in clock:
        raise TraceError(
            f"{where}: the clock {text!r:.80} has no (positive) entry for its own host"
        )
    return clock


def _clocks(texts: list[str], known: set[str]) -> list[dict[str, int]] | None:
    """All clocks at once (one JSON parse), or None if any is not a well-formed clock."""
    joined = "[" + ",".join(texts) + "]"
    try:
        dicts = _DECODER.decode(joined)
    except (json.JSONDecodeError, TraceError):
        return None
    if (
        not isinstance(dicts, list)
        or len(dicts) != len(texts)
        or not dicts
        or set(map(type, dicts)) != {dict}
    ):
        return None
    if sum(map(len, dicts)) != joined.count(":"):  # a repeated host, or ':' in a name
        return None
    values = list(chain.from_iterable(map(dict.values, dicts)))
    lowest = min(values) if values else 1
    if values and (set(map(type, values)) != {int} or lowest < 0):
        return None
    keys = set(chain.from_iterable(dicts))
    if not all(map(is_name, keys - known)):
        return None
    known |= keys
    if lowest == 0:
        dicts = [{h: v for h, v in d.items() if v} if 0 in d.values() else d for d in dicts]
    return dicts


def _header(text: str) -> tuple[str | None, str | None, str, int]:
    """(regex, delimiter, body, line number of the body's first line)."""
    first, _, rest = text.partition("\n")
    if not first.lstrip().startswith("(?<"):
        return None, None, text, 1
    second, nl2, body = rest.partition("\n")
    if not nl2:
        body, second = "", rest
    return first.strip(), (second.strip() or None), body, 3


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a log is read.

    Reading a log allocates a few container objects per event (its clock, record and
    ``Event``) and frees none, and none of them form cycles. With the collector on, its
    passes over the ever larger young and old generations made the import of a large log
    grow faster than linearly (over a quarter of the time at 2·10^5 events, more with
    other data alive in the process); the collector runs again, as before, when reading ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def executions(
    cls: type[T],
    text: str,
    *,
    regex: str | None = None,
    delimiter: str | None = None,
    processes: Iterable[str] = (),
    names: Names = "auto",
) -> list[tuple[str, T]]:
    """Every execution in a log, as ``(label, trace)`` in the order of the file."""
    if not isinstance(text, str):
        raise TypeError(f"A ShiViz log must be a str, got {type(text).__name__}")
    if names not in ("auto", "generate"):
        raise ValueError(f"names must be 'auto' or 'generate', got {names!r}")
    procs = list(processes) if not isinstance(processes, str) else [processes]
    text = text.replace("\r\n", "\n")
    head_regex, head_delim, body, line0 = _header(text)
    if regex is None:
        regex = head_regex
        if delimiter is None:
            delimiter = head_delim
    if regex is None:
        lines = body.split("\n", 2)
        # GoVector's layout starts with a host line that an event line follows
        regex = (
            GOVECTOR_REGEX
            if _HOST_LINE.fullmatch(lines[0])
            and not (len(lines) > 1 and _HOST_LINE.fullmatch(lines[1]))
            else SHIVIZ_REGEX
        )
    pattern = compile_regex(regex)
    missing = {"event", "host", "clock"} - set(pattern.groupindex)
    if missing:
        raise TraceError(
            f"The parser regex {regex!r} lacks the named groups "
            f"{sorted(missing)} (it needs event, host and clock)"
        )
    chunks: list[tuple[str, str, int]] = []  # label, text, first line
    if delimiter is not None:
        delim = compile_regex(delimiter, "delimiter regex")
        label, start, line = "", 0, line0
        for m in delim.finditer(body):
            chunks.append((label, body[start : m.start()], line))
            line += body.count("\n", start, m.end())
            label = (m.group("trace") or "") if "trace" in delim.groupindex else ""
            start = m.end()
        chunks.append((label, body[start:], line))
    else:
        chunks.append(("", body, line0))
    # Only a log that says so (TOKENS_MARK as its delimiter line) spells its own names:
    # elsewhere event text is a label, never an identity.
    if names == "auto" and head_delim != TOKENS_MARK:
        names = "generate"
    if delimiter == TOKENS_MARK:
        delimiter = None  # it matches no line of such a log
    with _gc_paused():
        out = [
            (label, _execution(cls, chunk, line, pattern, procs, names))
            for label, chunk, line in chunks
            if chunk.strip()
        ]
    if not out:  # an empty log is the empty execution (ShiViz shows nothing)
        empty = cls(procs)
        empty.validate()
        out = [("", empty)]
    return out


def read(
    cls: type[T],
    text: str,
    processes: Iterable[str] = (),
    *,
    regex: str | None = None,
    delimiter: str | None = None,
    names: Names = "auto",
) -> T:
    execs = executions(
        cls, text, regex=regex, delimiter=delimiter, processes=processes, names=names
    )
    if len(execs) > 1:
        raise TraceError(
            f"The log holds {len(execs)} executions "
            f"({[label for label, _ in execs]}); read them with "
            f"Trace.from_shiviz_executions"
        )
    return execs[0][1]


def _hint(pattern: re.Pattern[str]) -> str:
    if pattern.pattern == compile_regex(SHIVIZ_REGEX).pattern:
        return " (expected an event line, then a line 'host {clock}')"
    if pattern.pattern == compile_regex(GOVECTOR_REGEX).pattern:
        return " (expected a line 'host {clock}', then an event line)"
    return ""


def _line_at(chunk: str, pos: int, line0: int) -> int:
    return line0 + chunk.count("\n", 0, pos)


def _execution(
    cls: type[T],
    chunk: str,
    line0: int,
    pattern: re.Pattern[str],
    processes: list[str],
    names: Names,
) -> T:
    extra = [g for g in pattern.groupindex if g not in ("event", "host", "clock", "name")]
    named = "name" in pattern.groupindex
    found: list[tuple[str, str, str, int, tuple[tuple[str, str], ...]]] = []
    known: set[str] = set()
    last, counted, line = 0, 0, line0
    for m in pattern.finditer(chunk):
        start = m.start()
        if start > last and not chunk[last:start].isspace():
            gap = chunk[last:start]
            off = last + len(gap) - len(gap.lstrip())
            raise TraceError(
                f"Line {_line_at(chunk, off, line0)}: text not matched by the "
                f"parser regex{_hint(pattern)}: {gap.strip()[:80]!r}"
            )
        host, clock, event = m.group("host", "clock", "event")
        at_ = m.start("clock") if clock is not None else start
        line += chunk.count("\n", counted, at_)
        counted = at_
        if host is None or clock is None or event is None:
            raise TraceError(
                f"Line {line}: the parser regex matched no "
                f"{'host' if host is None else 'clock' if clock is None else 'event'}"
            )
        if host not in known:
            if not is_name(host):
                raise TraceError(
                    f"Line {line}: bad host name {host!r}: a host name is "
                    f"non-empty and has no whitespace or ! ? : # <"
                )
            known.add(host)
        attrs = (
            tuple(sorted((g, m.group(g)) for g in extra if m.group(g) is not None)) if extra else ()
        )
        if named:
            attrs = (("name", m.group("name") or ""), *attrs)
        found.append((host, clock, event, line, attrs))
        last = m.end()
        if last == start:
            raise TraceError(f"Line {line}: the parser regex matches empty text")
    clocks = _clocks([f[1] for f in found], known)
    if clocks is None:  # something is wrong: find it, event by event
        clocks = [_clock(c, h, ln, known) for h, c, _, ln, _ in found]
    recs: list[_Rec] = []
    for (host, clock, event, line, attrs), c in zip(found, clocks, strict=True):
        own = c.get(host, 0)
        if own < 1:
            raise TraceError(
                f"Line {line} (host {host!r}): the clock {clock!r:.80} has no "
                f"(positive) entry for its own host"
            )
        event = event.rstrip("\r")
        if not event.isprintable():
            check_text(event, f"Line {line} (host {host!r}): event text")
        recs.append(_Rec(host, c, own, event, attrs, line, sum(c.values())))
    tail = chunk[last:]
    if tail.strip():
        off = last + len(tail) - len(tail.lstrip())
        raise TraceError(
            f"Line {_line_at(chunk, off, line0)}: text not matched by the "
            f"parser regex{_hint(pattern)}: {tail.strip()[:80]!r}"
        )
    if not recs:
        raise TraceError(f"Line {line0}: the parser regex matches no event")

    by_host: dict[str, list[_Rec]] = {}
    for r in recs:
        by_host.setdefault(r.host, []).append(r)
    for h, evs in by_host.items():
        evs.sort(key=_own)
        if list(map(_own, evs)) == list(range(1, len(evs) + 1)):
            continue
        for k, r in enumerate(evs, 1):
            if r.own != k:
                before = f"from {evs[k - 2].own} (line {evs[k - 2].line}) " if k > 1 else ""
                raise TraceError(
                    f"Line {r.line} (host {h!r}): the host's own clock does "
                    f"not increase by exactly 1 per event starting at 1: it goes "
                    f"{before}to {r.own}"
                )
    edges = _edges(by_host)
    if names == "auto" and not named:
        t = _as_tokens(cls, by_host, processes)
        if t is not None:
            return t
    # names: host.k, or the regex's 'name' group (checked: a name, unique)
    name_of: dict[str, list[str]] = {}
    seen: set[str] = set()
    for h, evs in by_host.items():
        given = (
            [r.attrs[0][1] for r in evs] if named else [f"{h}.{k}" for k in range(1, len(evs) + 1)]
        )
        if named:
            for r, n in zip(evs, given, strict=True):
                if not is_name(n) or n in seen:
                    raise TraceError(
                        f"Line {r.line} (host {h!r}): event name {n!r} from the "
                        f"regex's name group is "
                        f"{'used twice' if n in seen else 'not a valid name'}"
                    )
                seen.add(n)
        name_of[h] = given
    t = cls(processes)
    for h, evs in by_host.items():
        if h not in t._procs:
            t.add_process(h)
        names_h = name_of[h]
        t._extend_checked_elsewhere(
            h,
            [
                Event(
                    names_h[k],
                    h,
                    k,
                    "local",
                    None,
                    None,
                    None,
                    r.line,
                    tuple([name_of[g][w - 1] for g, w in src]) if src else (),
                    r.text,
                    r.attrs[1:] if named else r.attrs,
                )
                for k, (r, src) in enumerate(zip(evs, edges[h], strict=True))
            ],
        )
    # The checks in _edges make every clock the max of the clocks it follows, plus one:
    # the log's clocks are the trace's vector clocks (and so acyclic).
    t.validate()
    return t


def _mismatch(
    t: TraceBase, by_host: dict[str, list[_Rec]], name: Callable[[str, int], str]
) -> tuple[_Rec, dict[str, int]] | None:
    """The first event whose vector clock in ``t`` is not its clock in the log."""
    procs = t.processes
    vts = vector_timestamps(t)
    for h, evs in by_host.items():
        for k, r in enumerate(evs, 1):
            vc = {p: c for p, c in zip(procs, vts[name(h, k)], strict=True) if c}
            if vc != r.clock:
                return r, vc
    return None


_Edges = list[tuple[str, int]] | tuple[()]


def _edges(by_host: dict[str, list[_Rec]]) -> dict[str, list[_Edges]]:
    """Per host, per event: the ``(host, count)`` of the events it directly follows.

    Also checks every clock: no entry goes backwards, every entry names a host of the
    execution and a count it reaches, and nothing an event follows is ahead of its clock.
    Linear in the events times the hosts: a local step costs one dict comparison; a
    receive, a pass over its clock and one over the clock of each event it follows.
    """
    out: dict[str, list[_Edges]] = {}
    hosts = by_host.keys()
    total_of: dict[tuple[str, int], int] = {}  # (host, count) -> sum of its clock
    for h, evs in by_host.items():
        total_of.update(
            zip(zip(repeat(h), range(1, len(evs) + 1)), [r.total for r in evs], strict=True)
        )
    for h, evs in by_host.items():
        prev: dict[str, int] = {}
        # ``expect``: the previous clock with the host's own entry moved to k, updated in
        # place (a local step's clock equals it; a copy is made only after a receive)
        expect: dict[str, int] = {}
        per: list[_Edges] = []
        for k, r in enumerate(evs, 1):
            clock = r.clock
            expect[h] = k
            if clock == expect:  # a local step: only its own entry moved
                per.append(())
                prev = clock
                continue
            if not hosts >= clock.keys():
                g = min(clock.keys() - hosts)
                raise TraceError(
                    f"Line {r.line} (host {h!r}): the clock has an entry for "
                    f"unknown host {g!r} (no event of {g!r} in this execution)"
                )
            if prev and (
                not clock.keys() >= prev.keys()
                or any(map(gt, prev.values(), map(clock.__getitem__, prev)))
            ):
                g = min(g for g in prev if clock.get(g, 0) < prev[g])
                raise TraceError(
                    f"Line {r.line} (host {h!r}): the clock goes backwards: "
                    f"entry {g!r} is {clock.get(g, 0)} after {prev[g]}"
                )
            cands = [gv for gv in clock.items() if gv[0] != h and prev.get(gv[0]) != gv[1]]
            try:
                if len(cands) > 1:  # keep only the edges no other edge implies, as ShiViz
                    cands.sort(key=total_of.__getitem__, reverse=True)
                    # the first (latest) is kept; a later one is implied iff an event kept
                    # before it has seen it: ``cover`` is the max of the kept clocks
                    kept = cands[:1]
                    g, v = kept[0]
                    cover = by_host[g][v - 1].clock
                    for gv in cands[1:]:
                        g, v = gv
                        if cover.get(g, 0) < v:
                            kept.append(gv)
                            if len(kept) == 2:
                                cover = cover.copy()
                            for gg, vv in by_host[g][v - 1].clock.items():
                                if vv > cover.get(gg, 0):
                                    cover[gg] = vv
                    cands = kept
                for g, v in cands:  # none of what the event follows is ahead of its clock
                    src = by_host[g][v - 1]
                    sc = src.clock
                    if (
                        not any(map(gt, sc.values(), map(clock.get, sc, repeat(0))))
                        and sc.get(h, 0) < k
                    ):
                        continue
                    ahead = [
                        (gg, vv) for gg, vv in sc.items() - clock.items() if vv > clock.get(gg, 0)
                    ]
                    if not ahead and sc.get(h, 0) >= k:
                        ahead = [(h, sc[h])]
                    gg, vv = ahead[0]
                    raise TraceError(
                        f"Line {r.line} (host {h!r}): impermissible clock "
                        f"{json.dumps(clock)}: it follows event {v} of host {g!r} (line "
                        f"{src.line}) whose clock {json.dumps(sc)} is ahead of it "
                        f"in entry {gg!r} ({vv})"
                    )
            except (IndexError, KeyError):
                g, v = next((g, v) for g, v in clock.items() if v > len(by_host[g]))
                raise TraceError(
                    f"Line {r.line} (host {h!r}): the clock receives count {v} "
                    f"of host {g!r}, which has only {len(by_host[g])} "
                    f"event(s): no event has that clock"
                ) from None
            per.append(cands)
            prev = clock
            expect = clock.copy()
        out[h] = per
    return out


def _as_tokens(cls: type[T], by_host: dict[str, list[_Rec]], processes: list[str]) -> T | None:
    """The log as the course trace its event texts spell, if they spell one exactly."""
    read_: dict[tuple[str, int], Any] = {}
    names: set[str] = set()
    for h, evs in by_host.items():
        for k, r in enumerate(evs, 1):
            tok = read_token(r.text)
            if tok is None or tok[0] in names:
                return None
            names.add(tok[0])
            read_[h, k] = tok
    t = cls(processes)
    for h, evs in by_host.items():
        if h not in t._procs:
            t.add_process(h)
        for k, r in enumerate(evs, 1):
            name, kind, msg, src = read_[h, k]
            t._add(h, name, kind, msg, None, None, r.line, src, None, r.attrs)
    try:
        t.validate()
    except TraceError:
        return None
    # The same execution iff its vector clocks are the log's clocks, event by event.
    if _mismatch(t, by_host, lambda h, k: read_[h, k][0]) is not None:
        return None
    return t


def to_shiviz(t: TraceBase) -> str:
    vts = vector_timestamps(t)
    procs = t.processes
    tokens = all(e.text is None for e in t.events)
    lines = [SHIVIZ_REGEX, TOKENS_MARK if tokens else ""]
    for e in t.causal_order():
        text = e.text if e.text is not None else e.token
        if _HOST_LINE.fullmatch(text) or "\n" in text or "\r" in text:
            raise TraceError(
                f"Event {e.name!r}: its text {text!r:.60} would be read as a "
                f"host line (or spans lines) by ShiViz"
            )
        vc = {p: c for p, c in zip(procs, vts[e.name], strict=True) if c}
        lines.append(text)
        lines.append(f"{e.process} {json.dumps(vc)}")
    return "\n".join(lines) + "\n"
