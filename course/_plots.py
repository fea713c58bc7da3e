"""Space-time diagrams (matplotlib; headless-safe).

One horizontal line per process (pid 0 on top), a dot per event, an arrow per message
from its send to its receive; a message still in flight ends in a dashed stub. Events are
placed at their ``time`` when every event has one, else at their Lamport timestamp, or at the
sum of their vector timestamp when vector timestamps are shown (so every arrow points
forward). With ``highlight=e`` the causal past of e is blue, its future red and
the events concurrent with it grey; ``violations`` (from ``check_clock_condition``) are drawn
as thick red steps.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from course._clocks import lamport_timestamps, vector_timestamps
from course._order import HappensBefore, Violation
from course._trace import Trace

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["space_time_diagram"]

PAST, FUTURE, CONCURRENT, SELECTED, PLAIN = "#1f77b4", "#d62728", "#9e9e9e", "#ffb000", "#333333"


def _labels(trace: Trace, timestamps: str | Mapping[str, Any] | None) -> dict[str, str]:
    if timestamps is None:
        return {}
    if timestamps == "lamport":
        return {k: str(v) for k, v in lamport_timestamps(trace).items()}
    if timestamps == "vector":
        return {k: "[" + ",".join(map(str, v)) + "]" for k, v in vector_timestamps(trace).items()}
    if isinstance(timestamps, Mapping):
        return {k: str(v) for k, v in timestamps.items()}
    raise ValueError(f"timestamps must be None, 'lamport', 'vector' or a mapping, "
                     f"got {timestamps!r}")


#: The x axis's label for each placement.
AXIS_LABELS = {"time": "time", "lamport": "Lamport timestamp",
               "vector": "vector timestamp (sum of entries: events in the causal past)",
               "index": "index"}


def _axis(trace: Trace, x: str, timestamps: object) -> str:
    """The placement ``x`` names; 'auto' is the events' times when they all have one, else
    the kind of timestamps shown (vector sums for 'vector', Lamport otherwise)."""
    if x != "auto":
        return x
    if len(trace) and all(e.time is not None for e in trace):
        return "time"
    return "vector" if timestamps == "vector" else "lamport"


def _positions(trace: Trace, x: str) -> dict[str, float]:
    if x == "time":
        missing = [e.name for e in trace if e.time is None]
        if missing:
            raise ValueError(f"x='time' but events {missing[:5]} have no time")
        return {e.name: float(e.time) for e in trace if e.time is not None}
    if x == "lamport":
        return {k: float(v) for k, v in lamport_timestamps(trace).items()}
    if x == "vector":  # the sum grows along every happens-before edge, as TS does
        return {k: float(sum(v)) for k, v in vector_timestamps(trace).items()}
    if x == "index":
        return {e.name: float(e.index + 1) for e in trace}
    raise ValueError(f"x must be 'auto', 'time', 'lamport', 'vector' or 'index', got {x!r}")


#: Fixed colours for the lecture's message types, so a type looks the same in every figure.
MESSAGE_COLOURS = {"REQUEST": "#1f77b4", "GRANT": "#2ca02c", "RELEASE": "#9467bd",
                   "REPLY": "#ff7f0e", "ACK": "#8c564b", "TOKEN": "#e377c2"}
_SPARE = ("#17becf", "#bcbd22", "#7f7f7f", "#d62728", "#aec7e8", "#98df8a")


def tag_colour(tag: str) -> str:
    """The colour of a message type: fixed for known types, else a stable pick by name."""
    if tag in MESSAGE_COLOURS:
        return MESSAGE_COLOURS[tag]
    return _SPARE[zlib.crc32(tag.encode()) % len(_SPARE)]


def _spread(trace: Trace, pos: dict[str, float]) -> dict[str, float]:
    """Nudge events of one process that share an x (a broadcast's copies, say) apart, in
    their process order, so their dots and labels do not overlap."""
    xs = list(pos.values())
    span = max(xs) - min(xs) if xs else 0.0
    step = 0.04 * span if span > 0 else 0.5
    out = dict(pos)
    for p in trace.processes:
        evs = trace.events_of(p)
        i = 0
        while i < len(evs):
            j = i
            while j + 1 < len(evs) and pos[evs[j + 1].name] == pos[evs[i].name]:
                j += 1
            k = j - i + 1
            for n, e in enumerate(evs[i:j + 1]):
                out[e.name] = pos[e.name] + (n - (k - 1) / 2) * step / max(k - 1, 1)
            i = j + 1
    return out


def space_time_diagram(trace: Trace, *, timestamps: str | Mapping[str, Any] | None = "lamport",
                       highlight: str | None = None,
                       violations: Iterable[Violation] = (),
                       x: str = "auto", ax: Axes | None = None, title: str | None = None,
                       show_names: bool = True) -> Axes:
    """Draw ``trace`` and return the matplotlib Axes.

    ``timestamps``: label events with 'lamport' or 'vector' timestamps, a mapping of your
    own (e.g. a student's clock), or None. ``x``: 'auto', 'time', 'lamport', 'vector' (the
    sum of an event's vector entries) or 'index'; 'auto' is 'time' when every event has a
    time, else follows ``timestamps`` ('vector' for vector timestamps, 'lamport' otherwise).
    Message arrows are colored by their send event's ``tag`` (e.g. message type) when set.
    """
    import matplotlib.pyplot as plt

    trace.validate()
    if ax is None:
        width = min(16.0, 4.0 + 0.6 * max((len(trace.events_of(p)) for p in trace.processes),
                                          default=1))
        _, ax = plt.subplots(figsize=(width, 1.0 + 1.1 * len(trace.processes)))
    x = _axis(trace, x, timestamps)
    pos = _spread(trace, _positions(trace, x))
    labels = _labels(trace, timestamps)
    y = {p: -i for i, p in enumerate(trace.processes)}
    xs = list(pos.values()) or [0.0]
    x0, x1 = min(xs), max(xs)
    pad = max((x1 - x0) * 0.08, 0.5)
    for p in trace.processes:
        ax.hlines(y[p], x0 - pad, x1 + pad, color="#bbbbbb", lw=1.5, zorder=0)
        ax.text(x0 - pad * 1.1, y[p], p, ha="right", va="center", fontsize=11,
                fontweight="bold")

    color = dict.fromkeys(pos, PLAIN)
    if highlight is not None:
        hb = HappensBefore(trace)
        hb.vector(highlight)  # raises a clear error for an unknown event
        for e in trace:
            if e.name == highlight:
                color[e.name] = SELECTED
            elif hb.happens_before(e.name, highlight):
                color[e.name] = PAST
            elif hb.happens_before(highlight, e.name):
                color[e.name] = FUTURE
            else:
                color[e.name] = CONCURRENT

    tags = sorted({e.tag for e in trace if e.kind == "send" and e.tag})
    tag_color = {t: tag_colour(t) for t in tags}
    sends, recvs = trace.sends(), trace.receives()
    drawn_tags: set[str] = set()
    for m, s in sends.items():
        c = tag_color.get(s.tag or "", "#555555")
        if s.tag is not None and s.tag in tag_color and s.tag not in drawn_tags:
            drawn_tags.add(s.tag)
            ax.plot([], [], color=c, label=s.tag)
        r = recvs.get(m)
        if r is None:
            ax.annotate("", xy=(pos[s.name] + pad, y[s.process] - 0.45),
                        xytext=(pos[s.name], y[s.process]),
                        arrowprops={"arrowstyle": "->", "color": c, "ls": "--", "lw": 1})
            continue
        ax.annotate("", xy=(pos[r.name], y[r.process]), xytext=(pos[s.name], y[s.process]),
                    arrowprops={"arrowstyle": "-|>", "color": c, "lw": 1.2,
                                "shrinkA": 5, "shrinkB": 5})

    for e in trace:  # an imported log's edges
        for src in e.sources:
            s_ev = trace[src]
            ax.annotate("", xy=(pos[e.name], y[e.process]), xytext=(pos[src], y[s_ev.process]),
                        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.2,
                                    "shrinkA": 5, "shrinkB": 5})

    for v in violations:
        a, b = trace[v.earlier], trace[v.later]
        ax.plot([pos[a.name], pos[b.name]], [y[a.process], y[b.process]], color="red", lw=4,
                alpha=0.45, zorder=1)
        ax.text((pos[a.name] + pos[b.name]) / 2, (y[a.process] + y[b.process]) / 2 + 0.12,
                f"{v.ts_earlier} ≥ {v.ts_later}", color="red", ha="center", fontsize=9)

    for e in trace:
        ax.scatter([pos[e.name]], [y[e.process]], s=110 if e.name == highlight else 60,
                   color=color[e.name], zorder=3, edgecolors="black", linewidths=0.5)
        text = e.name if show_names else ""
        if show_names and e.text:
            text = f"{text}: {e.text if len(e.text) <= 16 else e.text[:15] + '…'}"
        if e.name in labels:
            text = f"{text} {labels[e.name]}".strip()
        if text:
            ax.text(pos[e.name], y[e.process] + 0.16, text, ha="center", va="bottom",
                    fontsize=9)

    if highlight is not None:
        for lab, c in (("selected", SELECTED), ("past", PAST), ("future", FUTURE),
                       ("concurrent", CONCURRENT)):
            ax.scatter([], [], color=c, label=lab, edgecolors="black", linewidths=0.5)
    if drawn_tags or highlight is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_ylim(-len(trace.processes) + 0.4, 0.7)
    ax.set_yticks([])
    ax.set_xlabel(AXIS_LABELS[x])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    return ax
