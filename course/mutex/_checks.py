"""Checkers and metrics for mutual exclusion. They read only what a run recorded.

* **Safety**: never two processes in the CS at once. Two intervals overlap when one
  enters before the other has left, in the order events happened. With ``causal=True``
  consecutive CS intervals must moreover be ordered by happens-before (the exit of one →
  the entry of the next): otherwise other message delays could overlap them.
* **Liveness**: every request is eventually granted. Reports each starving process; a
  process that crashed itself is excused, not the ones a crash blocks.
* **Fairness**: ``order="timestamp"`` – entries in (request timestamp, pid) order (Lamport,
  Ricart–Agrawala); ``order="causal"`` – a request that happened before another is
  served first (also the centralized algorithm's FIFO queue; ``"arrival"`` is a synonym).
* **Metrics**: messages per CS entry by type, synchronization delay (exit of one to entry
  of the next when someone was waiting), waiting time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from statistics import fmean
from typing import cast

from course.sim import CSInterval, Run

__all__ = [
    "Verdict",
    "check_all",
    "check_fairness",
    "check_liveness",
    "check_safety",
    "message_counts",
    "messages_per_entry",
    "metrics",
    "sync_delays",
    "waiting_times",
]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: truthy when it holds; ``problems`` say why not and
    ``events`` name the events involved (to highlight in a diagram)."""

    check: str
    problems: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    processes: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"{self.check}: ok"
        more = f" (+{len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        return f"{self.check}: " + "; ".join(self.problems[:3]) + more

    def __repr__(self) -> str:
        return f"Verdict({self})"


def _at(iv: CSInterval, what: str) -> str:
    t = {"request": iv.requested, "enter": iv.entered, "exit": iv.exited}[what]
    ev = getattr(iv, f"{what}_event")
    return f"t={t:g} ({ev})"


def check_safety(run: Run, *, causal: bool = True) -> Verdict:
    """At most one process in the CS at any moment (see the module docstring)."""
    run.require_record()
    pos = run.position
    end = len(run.order)
    entries = run.entries
    problems, events, procs = [], [], set()
    holder: CSInterval | None = None  # the entered interval that leaves last so far
    for iv in entries:
        if holder is not None:
            h_exit = pos[holder.exit_event] if holder.exit_event else end
            if pos[iv.enter_event] < h_exit:  # type: ignore[index]
                left = f"left at {_at(holder, 'exit')}" if holder.exit_event else "never left"
                problems.append(
                    f"P{iv.pid} entered at {_at(iv, 'enter')} while P{holder.pid} "
                    f"was in the CS (entered at {_at(holder, 'enter')}, {left})"
                )
                events += [holder.enter_event, iv.enter_event]
                procs |= {holder.pid, iv.pid}
        if holder is None or (
            holder.exit_event is not None
            and (iv.exit_event is None or pos[iv.exit_event] > pos[holder.exit_event])
        ):
            holder = iv
    if causal and not problems and len(entries) > 1:
        from course._order import HappensBefore

        hb = HappensBefore(run.trace)
        for a, b in itertools.pairwise(entries):
            if a.exit_event and not hb.happens_before(a.exit_event, b.enter_event):  # type: ignore[arg-type]
                problems.append(
                    f"P{b.pid} entered at {_at(b, 'enter')} without hearing of "
                    f"P{a.pid}'s exit at {_at(a, 'exit')}: not ordered by "
                    f"happens-before, so other delays would overlap them"
                )
                events += [a.exit_event, b.enter_event]
                procs |= {a.pid, b.pid}
    return Verdict("safety", tuple(problems), tuple(events), tuple(sorted(procs)))  # type: ignore[arg-type]


def check_liveness(run: Run) -> Verdict:
    """Every request entered; reports the starving processes."""
    run.require_record()
    problems, events, procs = [], [], []
    for iv in run.intervals:
        if iv.entered is None and not iv.crashed:
            problems.append(f"P{iv.pid} asked at {_at(iv, 'request')} and never entered")
            events.append(iv.request_event)
            if iv.pid not in procs:
                procs.append(iv.pid)
    if problems:
        why = (
            "nothing was left to happen: deadlock"
            if run.quiescent
            else "the run stopped at a limit"
            if run.schedule is None
            else "the schedule ended here"
        )
        if run.crashes:
            why += "; crashed: " + ", ".join(
                f"P{p} at t={t:g}" for p, t in sorted(run.crashes.items())
            )
        problems[-1] += f" ({why}, t={run.end_time:g})"
    return Verdict("liveness", tuple(problems), tuple(events), tuple(procs))


def check_fairness(run: Run, order: str = "timestamp") -> Verdict:
    """Requests served in (timestamp, pid) order, or in happens-before order."""
    run.require_record()
    if order not in ("timestamp", "causal", "arrival"):
        raise ValueError(f"order must be 'timestamp' or 'causal' ('arrival'), got {order!r}")
    order = "causal" if order == "arrival" else order
    entries = run.entries
    waiting = [iv for iv in run.intervals if iv.entered is None and not iv.crashed]
    problems: list[str] = []
    events: list[str] = []
    procs: set[int] = set()

    def bad(first: CSInterval, later: CSInterval, why: str) -> None:
        problems.append(why)
        # ``later`` always entered the CS (it is in run.entries)
        events.extend([first.request_event, cast(str, later.enter_event)])
        procs.update({first.pid, later.pid})

    if order == "timestamp":
        for a, b in itertools.pairwise(entries):
            if b.key < a.key:
                bad(
                    b,
                    a,
                    f"P{b.pid} (request ts {b.ts}, pid {b.pid}) entered at "
                    f"{_at(b, 'enter')} after P{a.pid} (request ts {a.ts}, pid {a.pid})",
                )
        for w in waiting:
            for e in entries:
                if w.key < e.key:
                    bad(
                        w,
                        e,
                        f"P{w.pid} (request ts {w.ts}, pid {w.pid}) never entered, "
                        f"but P{e.pid} (request ts {e.ts}, pid {e.pid}) did",
                    )
                    break
    else:
        from course._order import HappensBefore

        hb = HappensBefore(run.trace)
        rank = {iv.request_event: i for i, iv in enumerate(entries)}
        for a, b in itertools.permutations(list(entries) + waiting, 2):
            if b.request_event not in rank or not hb.happens_before(
                a.request_event, b.request_event
            ):
                continue
            if a.request_event not in rank or rank[b.request_event] < rank[a.request_event]:
                bad(
                    a,
                    b,
                    f"P{b.pid}'s request at {_at(b, 'request')} came after "
                    f"P{a.pid}'s at {_at(a, 'request')} (happens-before) but P{b.pid} "
                    f"entered first, at {_at(b, 'enter')}",
                )
    return Verdict(f"fairness ({order})", tuple(problems), tuple(events), tuple(sorted(procs)))


def check_all(run: Run, *, fairness: str | None = None) -> list[Verdict]:
    """Safety and liveness, plus fairness in the given order when asked."""
    out = [check_safety(run), check_liveness(run)]
    if fairness:
        out.append(check_fairness(run, fairness))
    return out


# ----- metrics ---------------------------------------------------------------------------------
def message_counts(run: Run) -> dict[str, int]:
    """Messages sent, by type."""
    run.require_record()
    return dict(sorted(run.messages.items()))


def messages_per_entry(run: Run) -> dict[str, float]:
    """Messages sent per CS entry, by type, plus ``"total"``."""
    n = len(run.entries)
    if n == 0:
        raise ValueError(f"No CS entries in {run!r}")
    out = {k: v / n for k, v in message_counts(run).items()}
    out["total"] = sum(run.messages.values()) / n
    return out


def sync_delays(run: Run) -> list[float]:
    """For each exit after which somebody was already waiting: time until the next
    entry."""
    run.require_record()
    out = []
    for a, b in itertools.pairwise(run.entries):
        if a.exited is not None and b.requested <= a.exited and not a.crashed:
            out.append(b.entered - a.exited)  # type: ignore[operator]
    return out


def waiting_times(run: Run) -> list[float]:
    """Entry time minus request time, per entered request."""
    run.require_record()
    return [iv.entered - iv.requested for iv in run.entries]  # type: ignore[operator]


def metrics(run: Run) -> dict[str, float]:
    """Entries, messages per entry, mean/max synchronization delay and waiting time."""
    out: dict[str, float] = {"entries": len(run.entries)}
    if run.entries:
        out["messages/entry"] = messages_per_entry(run)["total"]
    for name, values in (("sync delay", sync_delays(run)), ("waiting", waiting_times(run))):
        if values:
            out[f"mean {name}"] = fmean(values)
            out[f"max {name}"] = max(values)
    return out
