"""CS timeline, message diagram and the stepper draw what they claim (Agg, no front end)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from course.mutex import Centralized, RicartAgrawala, cs_timeline, draw_run, message_diagram
from course.mutex._plots import IN_CS, WAITING
from course.mutex.widgets import describe_event, stepper
from course.sim import Config, Constant, Crash, simulate

RUN = simulate(RicartAgrawala, Config(n=3, requests=1, delay=Constant(1.0)), 0)


def _bars(ax, color):
    from matplotlib.colors import to_hex

    out = []
    for coll in ax.collections:
        if coll.get_facecolor().size and to_hex(coll.get_facecolor()[0]) == color:
            for path in coll.get_paths():
                xs, ys = path.vertices[:, 0], path.vertices[:, 1]
                out.append((round(float(xs.min()), 6), round(float(xs.max()), 6),
                            round(float(ys.min() + ys.max()) / 2, 6)))
    return sorted(out)


def test_timeline_has_a_waiting_and_a_cs_bar_per_request():
    ax = cs_timeline(RUN)
    cs = _bars(ax, IN_CS)
    assert cs == sorted((iv.entered, iv.exited, -iv.pid) for iv in RUN.intervals)
    waiting = _bars(ax, WAITING)
    assert waiting == sorted((iv.requested, iv.entered, -iv.pid) for iv in RUN.intervals)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["P0", "P1", "P2"]


def test_timeline_marks_crashes_and_open_intervals():
    cfg = Config(n=3, requests=[(1, 0.0), (2, 0.0)], delay=Constant(1.0),
                 crashes=(Crash(0, time=1.5),))
    run = simulate(Centralized, cfg, 0)
    ax = cs_timeline(run)
    crosses = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [tuple(c.get_offsets()[0]) for c in crosses] == [(1.5, 0.0)]
    (waiting_p2,) = [b for b in _bars(ax, WAITING) if b[2] == -2]
    assert waiting_p2[1] > run.end_time  # still waiting when the run ended


def test_message_diagram_colors_message_types_and_steps_through_prefixes():
    ax = message_diagram(RUN)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"REQUEST", "REPLY"}
    k = 5
    ax = message_diagram(RUN, upto=k)
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in dots) == k
    with pytest.raises(ValueError, match=r"upto=999 not in 0\.\."):
        message_diagram(RUN, upto=999)


def test_draw_run_shares_the_time_axis():
    fig = draw_run(RUN, upto=10)
    top, bottom = fig.axes[:2]
    assert top.get_xlim() == bottom.get_xlim()
    assert top.get_xlim()[1] >= RUN.time_of(10)


def test_stepper_moves_through_the_run_without_a_front_end():
    box = stepper(RUN)
    assert box.slider.max == len(RUN) and box.slider.value == len(RUN)
    last = box.state["figure"]
    assert box.children[1].value == describe_event(RUN, len(RUN))
    box.slider.value = 3
    assert box.state["figure"] is not last
    assert box.children[1].value.startswith("event 3 of ")
    assert describe_event(RUN, 0) == f"start (0 of {len(RUN)} events)"
    out = box.children[2]
    assert out.outputs[0]["data"]["image/png"]


def test_stepper_without_ipywidgets_returns_the_picture(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert isinstance(stepper(RUN), Figure)


def test_importing_the_simulator_stays_light():
    code = ("import sys, course.sim, course.mutex, course.mutex.widgets; "
            "print(sorted(m for m in ('jax', 'nbgrader', 'ipywidgets', 'matplotlib', "
            "'simpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_message_diagram_lets_callers_override_labels_and_axis():
    from course._plots import AXIS_LABELS
    from course.mutex import RicartAgrawala, message_diagram
    from course.sim import Config, simulate

    run = simulate(RicartAgrawala, Config(n=3), seed=4)
    ax = message_diagram(run, x="lamport", timestamps=None, show_names=True)
    assert ax.get_xlabel() == AXIS_LABELS["lamport"]
    assert not any(t.get_text().isdigit() for t in ax.texts)


def test_stepper_frames_share_the_whole_run_axis():
    from course.mutex import RicartAgrawala, draw_run
    from course.mutex.widgets import stepper
    from course.sim import Config, simulate

    run = simulate(RicartAgrawala, Config(n=3), seed=2)
    full = draw_run(run).axes[0].get_xlim()
    assert draw_run(run, upto=3, whole_run_axis=True).axes[0].get_xlim() == full
    assert draw_run(run, upto=3).axes[0].get_xlim() != full
    box = stepper(run)
    slider = next(c for c in box.children[0].children if hasattr(c, "max"))
    slider.value = 3
    out = next(c for c in box.children if hasattr(c, "outputs"))
    assert "image/png" in out.outputs[0]["data"]
