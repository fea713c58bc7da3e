"""`make demo`: the library on the lecture's example, end to end.

Prints Lamport and vector timestamps and the total order, checks the clock condition (and
shows it catching a broken clock), saves a space-time diagram PNG; then runs the three
mutual-exclusion algorithms on the simulator, checks them, searches every delivery order of
a small Ricart–Agrawala system, and saves its CS timeline.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import course

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def main(out_dir: str = "out") -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace = course.Trace.parse(course.LECTURE_EXAMPLE)
    print("Lecture example:\n" + trace.to_text())
    lam = course.lamport_timestamps(trace)
    vec = course.vector_timestamps(trace)
    print(f"{'event':<6} {'Lamport':>7}  vector")
    for e in trace.causal_order():
        print(f"{e.name:<6} {lam[e.name]:>7}  {vec[e.name]}")
    order = course.total_order(trace)
    print("Total order (TS, pid):", " < ".join(order))
    print("Total order problems:", course.check_total_order(trace, order) or "none")
    print("Clock condition violations:", course.check_clock_condition(trace, lam) or "none")
    broken = dict(lam, f=2)  # a receive that forgot the max(): f = own + 1
    print("A broken clock (f forgot max(own, received) + 1):")
    for v in course.check_clock_condition(trace, broken):
        print("  ", v)
    hb = course.HappensBefore(trace)
    print("a → f:", hb.happens_before("a", "f"), "| a ∥ e:", hb.concurrent("a", "e"))
    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    ax = course.space_time_diagram(trace, highlight="c", title="Lecture example: past/future of c")
    path = out / "lecture-example.png"
    fig = cast("Figure", ax.figure)  # a figure of its own, never a subfigure
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"Space-time diagram saved to {path.resolve()}")

    print("\nMutual exclusion on the simulator (N = 4; P1, P2, P3 ask at t = 0; seed 1):")
    from course import mutex

    for algorithm in (course.Centralized, course.Lamport, course.RicartAgrawala):
        asks = ((1, 0.0), (2, 0.0), (3, 0.0))  # P0 is the coordinator in Centralized
        run = course.simulate(algorithm, course.Config(n=4, requests=asks), seed=1)
        verdicts = ", ".join(
            f"{v.check} {'ok' if v.ok else 'VIOLATED'}" for v in mutex.check_all(run)
        )
        per_entry = mutex.messages_per_entry(run)["total"]
        print(f"  {algorithm.__name__:<15} {per_entry:4.2f} messages per entry; {verdicts}")
    search = course.explore(course.RicartAgrawala, course.Config(n=3))
    print("  exhaustive search:", search.summary())
    fig = course.draw_run(course.simulate(course.RicartAgrawala, course.Config(n=3), seed=1))
    path = out / "ricart-agrawala.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"CS timeline and messages saved to {path.resolve()}")
    print("\nNext: `make lab` opens JupyterLab; start with notebooks/01-time-and-order.ipynb.")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
