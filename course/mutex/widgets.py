"""Watch a run unfold: a slider (and play button) over the events of a run.

``stepper(run)`` returns an ipywidgets box: the slider picks how many events have
happened; the frame shows the CS timeline and the message diagram up to there, and a line
names the latest event. ipywidgets is imported inside the function only. Without a front
end the widget still builds and draws once; without ipywidgets at all ``stepper`` returns
the finished picture (a matplotlib Figure) instead.
"""

from __future__ import annotations

from typing import Any

from course.sim import Run
from course.widgets import png_output

__all__ = ["describe_event", "stepper"]


def describe_event(run: Run, k: int) -> str:
    """One line about the k-th event (1-based) of the run."""
    if k == 0:
        return f"start (0 of {len(run)} events)"
    name = run.order[k - 1]
    ev = run.trace[name]
    what = {
        "send": f"sends {ev.tag} ({ev.message})",
        "receive": f"receives {ev.tag} ({ev.message})",
        "local": ev.tag or "local event",
    }[ev.kind]
    return (
        f"event {k} of {len(run)}: {name} {what} at t={ev.time:g}, "
        f"Lamport ts {run.timestamps[name]}"
    )


def stepper(run: Run, *, start: int | None = None) -> Any:
    """A slider over the events of ``run`` with the picture up to the chosen event."""
    import matplotlib.pyplot as plt

    from course.mutex._plots import draw_run

    try:
        import ipywidgets as w
    except ImportError:
        return draw_run(run)
    k0 = len(run) if start is None else start
    if not 0 <= k0 <= len(run):
        raise ValueError(f"start={start!r} not in 0..{len(run)} events")
    slider = w.IntSlider(
        value=k0,
        min=0,
        max=len(run),
        description="events",
        continuous_update=False,
        layout=w.Layout(width="70%"),
    )
    play = w.Play(value=k0, min=0, max=len(run), interval=400, description="play")
    w.jslink((play, "value"), (slider, "value"))
    label = w.Label()
    out = w.Output()
    state: dict[str, Any] = {}

    def redraw(*_: Any) -> None:
        fig = draw_run(run, upto=slider.value, whole_run_axis=True)
        plt.close(fig)  # keep it out of pyplot's global list
        out.outputs = (png_output(fig),)
        label.value = describe_event(run, slider.value)
        state["figure"] = fig

    slider.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([play, slider]), label, out])
    box.redraw = redraw
    box.state = state
    box.slider = slider
    return box
