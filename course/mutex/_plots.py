"""Pictures of a run: the CS timeline and the message space-time diagram (Agg-safe).

``cs_timeline``: one row per process; a light bar while *waiting*, a dark bar while *in
the CS*, nothing while *idle*, ✗ where it crashed; a red band where two processes are in
the CS at once. ``message_diagram``: ``course``'s space-time diagram of the run, x =
simulated time, arrows colored by message type, events labelled with the Lamport
timestamps the algorithm used. ``upto=k`` draws only the first k events (a stepper frame).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from course.sim import Run

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["cs_timeline", "draw_run", "message_diagram"]

WAITING, IN_CS, OVERLAP = "#f6c85f", "#2e7d32", "#d62728"


def _upto(run: Run, upto: int | None) -> int:
    k = len(run) if upto is None else upto
    if not 0 <= k <= len(run):
        raise ValueError(f"upto={upto!r} not in 0..{len(run)} events of {run!r}")
    return k


def cs_timeline(
    run: Run, *, ax: Axes | None = None, upto: int | None = None, title: str | None = None
) -> Axes:
    """Draw who is idle / waiting / in the CS over simulated time; return the Axes."""
    import matplotlib.pyplot as plt

    k = _upto(run, upto)
    seen = set(run.order[:k])
    end = run.end_time if k == len(run) else run.time_of(k)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * run.n))

    tail = max(0.01 * end, 0.25)  # an interval still open at the end shows past it

    def until(ev: str | None, t: float | None) -> float:
        return t if ev in seen else end + tail  # type: ignore[return-value]

    spans = []
    for iv in run.intervals:
        if iv.request_event not in seen:
            continue
        y = -iv.pid
        w_end = until(iv.enter_event, iv.entered)
        if iv.enter_event not in seen and iv.crashed:
            w_end = min(w_end, run.crashes.get(iv.pid, end))
        ax.broken_barh(
            [(iv.requested, w_end - iv.requested)],
            (y - 0.3, 0.6),
            facecolors=WAITING,
            edgecolors="none",
        )
        if iv.enter_event in seen:
            entered = cast(float, iv.entered)  # set together with enter_event
            c_end = until(iv.exit_event, iv.exited)
            ax.broken_barh(
                [(entered, c_end - entered)], (y - 0.3, 0.6), facecolors=IN_CS, edgecolors="none"
            )
            spans.append((entered, c_end, iv.pid))
    spans.sort()
    for i, (_, a1, p) in enumerate(spans):
        for b0, b1, q in spans[i + 1 :]:
            if b0 >= a1:
                break
            if q != p and min(a1, b1) > b0:
                ax.axvspan(b0, min(a1, b1), color=OVERLAP, alpha=0.3, zorder=0)
    for p, t in run.crashes.items():
        if t <= end:
            ax.scatter([t], [-p], marker="X", s=90, color="black", zorder=3)
    ax.set_yticks([-p for p in range(run.n)], run.processes)
    ax.set_ylim(-run.n + 0.4, 0.6)
    ax.set_xlim(0, end + 2 * tail)
    ax.set_xlabel("simulated time")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (WAITING, IN_CS)]
    ax.legend(
        handles,
        ["waiting", "in CS"],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(title if title is not None else repr(run), fontsize=9)
    return ax


def message_diagram(
    run: Run,
    *,
    ax: Axes | None = None,
    upto: int | None = None,
    title: str | None = None,
    show_names: bool = False,
    **kwargs: Any,
) -> Axes:
    """The space-time diagram of (the first ``upto`` events of) the run."""
    from course._plots import space_time_diagram

    k = _upto(run, upto)
    trace = run.trace if k == len(run) else run.prefix(k)
    opts: dict[str, Any] = {
        "timestamps": {e.name: run.timestamps[e.name] for e in trace},
        "x": "time",
        "show_names": show_names,
    }
    opts.update(kwargs)  # callers may override labels or the x axis
    return space_time_diagram(trace, ax=ax, title=title, **opts)


def draw_run(run: Run, *, upto: int | None = None, whole_run_axis: bool = False) -> Figure:
    """Timeline above, messages below, over the same stretch of simulated time.

    With ``whole_run_axis`` the x axis spans the whole run even when only the first
    ``upto`` events are drawn, so a stepper's frames line up instead of rescaling."""
    import matplotlib.pyplot as plt

    k = _upto(run, upto)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 1.6 + 1.4 * run.n), gridspec_kw={"height_ratios": [1, 1.6]}
    )
    cs_timeline(run, ax=top, upto=k)
    message_diagram(run, ax=bottom, upto=k)
    end = run.end_time if k == len(run) or whole_run_axis else run.time_of(k)
    pad = max(0.08 * end, 0.5)
    for ax in (top, bottom):
        ax.set_xlim(-pad, end + pad)
    fig.subplots_adjust(left=0.07, right=0.86, top=0.94, bottom=0.08, hspace=0.35)
    return fig
