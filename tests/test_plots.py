"""Space-time diagrams and the explorer widget draw what they claim (Agg, no front end)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from matplotlib.colors import to_hex

from course import (
    LECTURE_EXAMPLE,
    Trace,
    TraceError,
    check_clock_condition,
    space_time_diagram,
)
from course._plots import CONCURRENT, FUTURE, PAST, SELECTED

LECTURE = Trace.parse(LECTURE_EXAMPLE)


def _dot_colors(ax) -> dict[tuple[float, float], str]:
    out = {}
    for coll in ax.collections:
        for (x, y), fc in zip(coll.get_offsets(), coll.get_facecolors(), strict=False):
            out[(float(x), float(y))] = to_hex(fc)
    return out


def test_highlight_colors_past_future_concurrent():
    ax = space_time_diagram(LECTURE, highlight="c")
    colors = _dot_colors(ax)
    # x = Lamport timestamp, y = -pid
    assert colors[(1.0, 0.0)] == PAST.lower()  # a
    assert colors[(3.0, -1.0)] == SELECTED.lower()  # c
    assert colors[(5.0, -2.0)] == FUTURE.lower()  # f
    assert colors[(1.0, -2.0)] == CONCURRENT.lower()  # e
    texts = {t.get_text() for t in ax.texts}
    assert {"a 1", "f 5", "A", "B", "C"} <= texts


def test_vector_labels_and_message_arrows():
    ax = space_time_diagram(LECTURE, timestamps="vector")
    assert "f [2,2,2]" in {t.get_text() for t in ax.texts}
    arrows = [c for c in ax.texts if getattr(c, "arrow_patch", None) is not None]
    assert len(arrows) == 2  # m1, m2


def test_violations_are_marked():
    ts = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 1, "f": 2}
    ax = space_time_diagram(LECTURE, timestamps=ts,
                            violations=check_clock_condition(LECTURE, ts))
    assert "4 ≥ 2" in {t.get_text() for t in ax.texts}


def test_time_axis_and_tag_legend():
    t = Trace(["P", "Q"])
    t.send("P", "s", "m", tag="REQUEST", time=0.5)
    t.receive("Q", "r", "m", time=2.0)
    ax = space_time_diagram(t)
    assert ax.get_xlabel() == "time"
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["REQUEST"]


def test_bad_arguments_are_clear():
    with pytest.raises(TraceError, match="Unknown event 'zz'"):
        space_time_diagram(LECTURE, highlight="zz")
    with pytest.raises(ValueError, match="x must be 'auto'"):
        space_time_diagram(LECTURE, x="sideways")
    with pytest.raises(ValueError, match="have no time"):
        space_time_diagram(LECTURE, x="time")


def test_explorer_widget_redraws_without_front_end():
    from course.widgets import explore_trace

    box = explore_trace(LECTURE, selected="c")
    pick, kind = box.children[0].children
    assert pick.value == "c" and kind.value == "lamport"
    pick.value = "f"
    kind.value = "vector"
    out = box.children[1]
    assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    ax = box.state["axes"]
    assert "f [2,2,2]" in {t.get_text() for t in ax.texts}
    # Vector mode places and labels by the vector sums (f: 2+2+2 = 6), not Lamport's TS(f) = 5.
    assert ax.get_xlabel().startswith("vector timestamp")
    assert _dot_colors(ax)[(6.0, -2.0)] == SELECTED.lower()
    kind.value = "lamport"
    ax = box.state["axes"]
    assert ax.get_xlabel() == "Lamport timestamp"
    assert _dot_colors(ax)[(5.0, -2.0)] == SELECTED.lower()
    with pytest.raises(ValueError, match="Unknown event 'zz'"):
        explore_trace(LECTURE, selected="zz")


def test_import_course_is_light():
    code = ("import sys, course; heavy = [m for m in ('jax', 'nbgrader', 'ipywidgets', "
            "'matplotlib.pyplot') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_demo_runs_and_saves_png(tmp_path, capsys):
    from course.demo import main

    assert main(str(tmp_path)) == 0
    text = capsys.readouterr().out
    assert "Total order (TS, pid): a < e < b < c < d < f" in text
    assert "d → f (rule 2: message m2) but TS(d) = 4 is not < TS(f) = 2" in text
    assert "Centralized     3.00 messages per entry; safety ok, liveness ok" in text
    assert "Lamport         9.00 messages per entry" in text
    assert "RicartAgrawala  6.00 messages per entry" in text
    assert "space exhausted" in text
    for name in ("lecture-example.png", "ricart-agrawala.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_messages_in_flight_draws_no_empty_legend():
    t = Trace(["P", "Q"])
    t.send("P", "s", "m", tag="REQUEST", time=1.0)
    ax = space_time_diagram(t)  # filterwarnings=error: a "No artists" warning would fail
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["REQUEST"]


def test_events_sharing_a_time_are_spread_apart():
    t = Trace(["P", "Q", "R"])
    t.send("P", "s1", "m1", time=1.0)
    t.send("P", "s2", "m2", time=1.0)
    t.receive("Q", "r1", "m1", time=2.0)
    t.receive("R", "r2", "m2", time=3.0)
    ax = space_time_diagram(t)
    xs = sorted(x for (x, y) in _dot_colors(ax) if y == 0.0)
    assert len(xs) == 2 and xs[0] < 1.0 < xs[1]


def test_message_types_keep_their_colour_across_figures():
    from course._plots import MESSAGE_COLOURS, tag_colour

    assert tag_colour("REQUEST") == MESSAGE_COLOURS["REQUEST"]
    assert tag_colour("CUSTOM") == tag_colour("CUSTOM")
    for tags in (["REQUEST"], ["GRANT", "REQUEST"]):
        t = Trace(["P", "Q"])
        for i, tag in enumerate(tags):
            t.send("P", f"s{i}", f"m{i}", tag=tag)
            t.receive("Q", f"r{i}", f"m{i}")
        ax = space_time_diagram(t)
        legend = {tx.get_text(): to_hex(h.get_color())
                  for tx, h in zip(ax.get_legend().get_texts(),
                                   ax.get_legend().legend_handles, strict=True)}
        assert legend["REQUEST"] == MESSAGE_COLOURS["REQUEST"]
