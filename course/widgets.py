"""Interactive explorers (ipywidgets, imported here only).

``explore_trace(trace)`` shows a space-time diagram with a dropdown to select an event
(its causal past, future and concurrent events are highlighted) and a toggle between
Lamport and vector timestamps. Without a front end (CI, a plain console) the widget still
builds and draws once, so notebooks run top to bottom anywhere.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any, cast

from course._plots import space_time_diagram
from course._trace import Trace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["explore_trace", "png_output"]


def png_output(fig: Any) -> dict[str, Any]:
    """A display_data output holding ``fig`` as PNG (what an Output widget stores); the
    same with or without a front end, so widgets also draw in CI and plain consoles."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
            "text/plain": repr(fig),
        },
    }


def explore_trace(trace: Trace, *, selected: str | None = None, timestamps: str = "lamport") -> Any:
    """An ipywidgets box: event dropdown + timestamp toggle + the diagram (redrawn on change)."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    trace.validate()
    names = [e.name for e in trace.causal_order()]
    if selected is not None and selected not in trace:
        raise ValueError(f"Unknown event {selected!r}; events are {names}")
    if timestamps not in ("lamport", "vector"):
        raise ValueError(f"timestamps must be 'lamport' or 'vector', got {timestamps!r}")
    pick = w.Dropdown(
        options=[("(none)", None)] + [(n, n) for n in names], value=selected, description="event"
    )
    kind = w.ToggleButtons(
        options=["lamport", "vector"], value=timestamps, description="timestamps"
    )
    out = w.Output()

    state: dict[str, Any] = {}

    def redraw(*_: Any) -> None:
        # The x axis follows the kind too: Lamport timestamps or vector sums, never a mix.
        ax = space_time_diagram(trace, timestamps=kind.value, highlight=pick.value,
                                x=kind.value)
        fig = cast("Figure", ax.figure)  # a figure of its own, never a subfigure
        plt.close(fig)  # keep it out of pyplot's global figure list
        out.outputs = (png_output(fig),)  # same path with or without a front end
        state["axes"] = ax

    pick.observe(redraw, names="value")
    kind.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([pick, kind]), out])
    box.redraw = redraw
    box.state = state  # the last drawn Axes, for tests
    return box
