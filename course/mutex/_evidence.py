"""What a grader can judge from outside: a node's behaviour as a recorded transition table.

A test of a student's mutual-exclusion algorithm needs many runs (seeded schedules, or the
exhaustive search of every delivery order). Running the checker in the student's kernel
would let the student's code decide its own verdict, so the work is split:

* **In the kernel**, :func:`record_behaviour` runs the student's class (the search, or the
  seeded runs) through a *recorder*: a subclass that notes, for every handler call the
  simulator makes, its input -- process, state, Lamport clock, handler, message or timer --
  and everything the handler did -- each ``send`` / ``broadcast`` / ``set_timer`` /
  ``enter_cs`` in order, whether it raised, the state afterwards, or the exception that
  escaped. States and payloads are interned to numbers (by the explorer's own state key,
  ``course.sim._steps.node_key``, so two states the explorer merges get one number).
* **In the grader**, :func:`table_algorithm` turns the table back into a :class:`Node` class
  that replays it, and :func:`judge_behaviour` runs the course's *own* simulator and explorer
  on that class, with the invariants of :mod:`course.mutex`. The verdict comes from the
  grader's search, not from anything the kernel said.

Why this is sound: the replayed node behaves exactly as the recorded function, and the
grader's search visits the same graph as the kernel's (same kernel, same steps, same state
identities), so every transition it needs is in an honest table. A table that lacks one is
*incomplete* ("did not complete": the kernel stopped early or was tampered with); one input
with two different outcomes means the node depends on something other than its state and
the message (a global, randomness, the order of a set) and fails; a forged table that
passes *is* a correct algorithm, so faking one is solving the problem. Handlers are numbered
0..4 in :data:`HANDLERS`; the table is JSON (see :func:`record_behaviour`).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from course.sim import Config, Message, Node, Run

__all__ = ["HANDLERS", "Assessment", "IncompleteTable", "Table", "assess", "config_from_spec",
           "config_spec", "failure_figure", "judge_behaviour", "record_behaviour",
           "table_algorithm"]

FORMAT = "mutex-table-1"
HANDLERS = ("on_start", "on_request_cs", "on_message", "on_exit_cs", "on_timer")
_CALLS = ("send", "broadcast", "set_timer", "enter_cs")
MAX_ENTRIES = 400_000
JUDGE_MAX_STATES = 300_000  # the grader's search gives up (and fails the case) beyond this


class IncompleteTable(LookupError):
    """The grader's replay needed a transition the recorded table does not have."""


class NodeRaised(Exception):
    """Replays an exception that escaped a student's handler (its class name and text)."""


Key = tuple[int, int, int, int, Any]  # pid, state, clock at entry, handler, argument


@dataclass
class Table:
    """A recorded transition table (see the module docstring). ``entries`` maps a key
    (pid, state id, clock, handler index, argument) to (actions, state id after, error)."""

    init: dict[int, int] = field(default_factory=dict)
    entries: dict[Key, tuple[tuple[tuple[Any, ...], ...], int, str | None]] = field(
        default_factory=dict)
    payloads: list[str] = field(default_factory=list)  # repr of each interned payload
    conflicts: list[str] = field(default_factory=list)
    states: int = 0
    truncated: bool = False

    def __repr__(self) -> str:
        return (f"Table({len(self.entries)} transitions, {self.states} node states, "
                f"{len(self.conflicts)} conflicts{', truncated' if self.truncated else ''})")

    # ----- JSON, one string (one leaf of a record) ------------------------------------------
    def to_json(self) -> str:
        rows = [[*k[:4], _jkey(k[4]), [list(a) for a in acts], after, err]
                for k, (acts, after, err) in self.entries.items()]
        return json.dumps({"format": FORMAT, "init": sorted(self.init.items()), "rows": rows,
                           "payloads": self.payloads, "conflicts": self.conflicts[:5],
                           "nconflicts": len(self.conflicts), "states": self.states,
                           "truncated": self.truncated}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: Any) -> Table:
        """Parse and validate a table from a grading kernel (hostile input: ValueError)."""
        if type(text) is not str:
            raise ValueError(f"the recorded behaviour is not a table: {type(text).__name__}")
        data = json.loads(text)
        if type(data) is not dict or data.get("format") != FORMAT:
            raise ValueError("the recorded behaviour is not a table of this format")
        t = cls(states=_int(data.get("states")), truncated=data.get("truncated") is True)
        t.init = {_int(p): _int(s) for p, s in _list(data.get("init"))}
        t.payloads = [str(x)[:200] for x in _list(data.get("payloads"))]
        t.conflicts = [str(x)[:500] for x in _list(data.get("conflicts"))]
        t.conflicts += [""] * max(0, _int(data.get("nconflicts")) - len(t.conflicts))
        for row in _list(data.get("rows"))[:MAX_ENTRIES]:
            pid, state, clock, handler, arg, acts, after, err = _list(row)
            if not 0 <= _int(handler) < len(HANDLERS):
                raise ValueError(f"unknown handler {handler!r}")
            actions = tuple(_action(a) for a in _list(acts))
            t.entries[(_int(pid), _int(state), _int(clock), _int(handler), _pkey(arg))] = (
                actions, _int(after), None if err is None else str(err)[:500])
        return t


def _int(x: Any) -> int:
    if type(x) is not int:
        raise ValueError(f"expected an int in the table, got {x!r:.60}")
    return x


def _list(x: Any) -> list[Any]:
    if type(x) is not list:
        raise ValueError(f"expected a list in the table, got {x!r:.60}")
    return x


def _jkey(arg: Any) -> Any:
    return list(arg) if isinstance(arg, tuple) else arg


def _pkey(arg: Any) -> Any:
    """An argument back from JSON: a message as a tuple, a timer name, or None."""
    if type(arg) is list:
        mtype, ts, sender, dest, payload = arg
        return (str(mtype), _int(ts), _int(sender), _int(dest), _int(payload))
    if arg is None or type(arg) is str:
        return arg
    raise ValueError(f"bad handler argument {arg!r:.60}")


def _action(a: Any) -> tuple[Any, ...]:
    a = _list(a)
    if not a or a[0] not in _CALLS:
        raise ValueError(f"unknown action {a!r:.60}")
    return tuple(a)


# ----- the kernel side --------------------------------------------------------------------
class _Recorder:
    """Interns states and payloads and collects the entries of one recording."""

    def __init__(self) -> None:
        from course.sim import _steps

        self.node_key = getattr(_steps, "node_key", None) or _steps._node_key
        self.table = Table()
        self.state_ids: dict[Hashable, int] = {}
        self.payload_ids: dict[Any, int] = {}
        self.depth = 0
        self.actions: list[list[Any]] = []

    def state(self, node: Node) -> int:
        key = self.node_key(node.__dict__, node.pid)
        sid = self.state_ids.setdefault(key, len(self.state_ids))
        self.table.states = len(self.state_ids)
        return sid

    def payload(self, payload: Any) -> int:
        pid = self.payload_ids.get(payload)
        if pid is None:
            pid = self.payload_ids[payload] = len(self.payload_ids)
            self.table.payloads.append(repr(payload)[:200])
        return pid

    def add(self, key: Key, outcome: tuple[tuple[tuple[Any, ...], ...], int, str | None]
            ) -> None:
        entries = self.table.entries
        old = entries.get(key)
        if old is None:
            if len(entries) >= MAX_ENTRIES:
                self.table.truncated = True
                return
            entries[key] = outcome
        elif old != outcome:
            self.table.conflicts.append(
                f"P{key[0]}.{HANDLERS[key[3]]} in the same state did {_said(old)} once and "
                f"{_said(outcome)} another time")


def _said(outcome: tuple[tuple[tuple[Any, ...], ...], int, str | None]) -> str:
    acts, _, err = outcome
    calls = ", ".join(f"{a[0]}({', '.join(map(repr, a[1:3]))})" for a in acts) or "nothing"
    return f"[{calls}]" + (f" then raised {err}" if err else "")


def _recording_class(algorithm: type[Node], rec: _Recorder) -> type[Node]:
    """A subclass of ``algorithm`` whose handlers and calls also write to ``rec``."""

    def handler(index: int) -> Any:
        name = HANDLERS[index]

        def run(self: Node, *args: Any) -> None:
            method = getattr(super(cls, self), name)
            if rec.depth:  # a handler called from another handler: part of the outer one
                method(*args)
                return
            before = rec.state(self)
            if self.pid not in rec.table.init and index == 0:
                rec.table.init[self.pid] = before
            arg: Any = None
            if args:
                m = args[0]
                arg = ((m.type, m.ts, m.sender, m.dest, rec.payload(m.payload))
                       if isinstance(m, Message) else args[0])
            key: Key = (self.pid, before, self.clock, index, arg)
            rec.depth, rec.actions = 1, []
            try:
                method(*args)
            except Exception as exc:
                rec.add(key, (_frozen(rec.actions), before, f"{type(exc).__name__}: {exc}"))
                raise
            finally:
                rec.depth = 0
            rec.add(key, (_frozen(rec.actions), rec.state(self), None))

        run.__name__ = name
        return run

    def call(name: str) -> Any:
        def do(self: Node, *args: Any, **kwargs: Any) -> Any:
            method = getattr(super(cls, self), name)
            if not rec.depth:
                return method(*args, **kwargs)
            full = _SIGNATURES[name](*args, **kwargs)  # every argument, defaults filled in
            entry = [name, *(rec.payload(a) if i == _PAYLOAD.get(name) else a
                             for i, a in enumerate(full))]
            rec.actions.append(entry)
            try:
                return method(*full)
            except Exception:
                entry.append("raised")
                raise

        do.__name__ = name
        return do

    body: dict[str, Any] = {n: handler(i) for i, n in enumerate(HANDLERS)}
    body.update({n: call(n) for n in _CALLS})
    body["__qualname__"] = algorithm.__qualname__
    body["__module__"] = algorithm.__module__
    cls = type(algorithm.__name__, (algorithm,), body)
    return cls


_PAYLOAD = {"send": 2, "broadcast": 1}  # position of the payload among the call's arguments
_SIGNATURES: dict[str, Any] = {
    "send": lambda to, type, payload=None: (to, type, payload),
    "broadcast": lambda type, payload=None: (type, payload),
    "set_timer": lambda delay, name="timer": (delay, name),
    "enter_cs": lambda: (),
}


def _frozen(actions: list[list[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(a) for a in actions)


def record_behaviour(algorithm: type[Node], config: Config, *, seeds: Sequence[int] = (),
                     explore: bool = False, fairness: bool = True) -> dict[str, Any]:
    """Run ``algorithm`` through the recorder -- the simulator on each seed, and/or the
    exhaustive search -- and return ``{"format": ..., "table": <JSON string>}``, the value a
    test case records (check kind ``mutex``)."""
    if not isinstance(algorithm, type) or not issubclass(algorithm, Node):
        raise TypeError(f"expected a Node subclass (your algorithm's class), got "
                        f"{algorithm!r}")
    rec = _Recorder()
    recording = _recording_class(algorithm, rec)
    if explore:
        from course.mutex._explore import explore as search

        search(recording, config, fairness=fairness, max_states=JUDGE_MAX_STATES)
        _unfinished(rec.table)
    from course.sim import simulate

    for seed in seeds:  # an exception escapes: the case records it, and it fails
        simulate(recording, config, seed, record=False)
    return {"format": FORMAT, "table": rec.table.to_json()}


def _unfinished(table: Table) -> None:
    """Raise NotImplementedError when a recorded handler raised it: the student sees that a
    stub is still there (as in every other cell of an untouched notebook), not a search
    result. The search reports a raising node as a violation rather than raising, and this
    can only fail a case, never pass one."""
    for (pid, _state, _clock, handler, _arg), (_acts, _after, err) in table.entries.items():
        if err is not None and err.startswith("NotImplementedError"):
            raise NotImplementedError(f"P{pid}.{HANDLERS[handler]} raised NotImplementedError "
                                      f"(write it first)")


# ----- the grader side --------------------------------------------------------------------
def table_algorithm(table: Table, name: str = "Recorded") -> type[Node]:
    """A :class:`Node` class that replays ``table``: each handler looks its input up and
    repeats the recorded calls; a missing input raises :class:`IncompleteTable` (and is
    noted in the class's ``missing`` list)."""
    missing: list[str] = []

    def handler(index: int) -> Any:
        def run(self: Any, *args: Any) -> None:
            state = self.h if self.h >= 0 else table.init.get(self.pid, -1)
            arg: Any = None
            if args:
                m = args[0]
                arg = tuple(m) if isinstance(m, Message) else m
            key = (self.pid, state, self.clock, index, arg)
            outcome = table.entries.get(key)
            if outcome is None:
                what = f"P{self.pid}.{HANDLERS[index]}({_shown(arg, table)})"
                missing.append(what)
                raise IncompleteTable(f"no recorded transition for {what}")
            actions, after, error = outcome
            for action in actions:
                raised = action[-1] == "raised"
                args_ = action[1:-1] if raised else action[1:]
                try:
                    getattr(Node, action[0])(self, *args_)
                except Exception:
                    if not raised:
                        raise
                else:
                    if raised:
                        raise IncompleteTable(f"{action[0]}{args_!r} raised when recorded, "
                                              f"not in the replay")
            if error is not None:
                raise NodeRaised(error)
            self.h = after

        run.__name__ = HANDLERS[index]
        return run

    def init(self: Any) -> None:
        self.h = -1

    body: dict[str, Any] = {n: handler(i) for i, n in enumerate(HANDLERS)}
    body.update(__init__=init, missing=missing)
    return type(name, (Node,), body)


def _shown(arg: Any, table: Table) -> str:
    if isinstance(arg, tuple):
        mtype, ts, sender, dest, payload = arg
        extra = table.payloads[payload] if 0 <= payload < len(table.payloads) else "?"
        return f"{mtype} ts={ts} P{sender}→P{dest}" + ("" if extra == "None" else f" {extra}")
    return "" if arg is None else repr(arg)


# ----- configurations as plain data (the trusted context of a case) ------------------------
def _delay_spec(d: Any) -> list[Any]:
    from course.sim._config import Constant, Exponential, Uniform

    if isinstance(d, Constant):
        return ["constant", d.value]
    if isinstance(d, Uniform):
        return ["uniform", d.low, d.high]
    if isinstance(d, Exponential):
        return ["exponential", d.mean, d.minimum]
    raise ValueError(f"A judged configuration needs a Constant, Uniform or Exponential "
                     f"delay, got {d!r}")


def _delay_from(spec: Any) -> Any:
    from course.sim._config import Constant, Exponential, Uniform

    kind, *values = spec
    kinds = {"constant": Constant, "uniform": Uniform, "exponential": Exponential}
    if kind not in kinds:
        raise ValueError(f"Unknown delay kind {kind!r}")
    return kinds[kind](*[float(v) for v in values])


def config_spec(config: Config) -> dict[str, Any]:
    """``config`` as plain data (what a case's context keeps; :func:`config_from_spec`
    inverts it). Crashes are not judged: ValueError."""
    if config.crashes:
        raise ValueError(f"A judged configuration has no crashes, got {config!r}")
    return {"n": config.n, "requests": [list(r) for r in config.requests],  # type: ignore[union-attr]
            "delay": _delay_spec(config.delay), "cs_time": _delay_spec(config.cs_time),
            "fifo": config.fifo, "loss": config.loss,
            "max_time": None if config.max_time == float("inf") else config.max_time,
            "max_events": config.max_events}


def config_from_spec(spec: dict[str, Any]) -> Config:
    """The :class:`Config` of :func:`config_spec`'s data."""
    return Config(n=int(spec["n"]), requests=tuple((int(p), float(t)) for p, t in
                                                  spec["requests"]),
                  delay=_delay_from(spec["delay"]), cs_time=_delay_from(spec["cs_time"]),
                  fifo=bool(spec["fifo"]), loss=float(spec["loss"]),
                  max_time=float("inf") if spec["max_time"] is None else float(spec["max_time"]),
                  max_events=int(spec["max_events"]))


# ----- the verdict --------------------------------------------------------------------------
@dataclass
class Assessment:
    """The grader's finding: ``problem`` (None when every run holds) and the run that shows
    it (the shortest schedule of the search, or the failing seed), to draw."""

    problem: str | None
    run: Run | None = None

    def __repr__(self) -> str:
        return f"Assessment({'right' if self.problem is None else self.problem[:80]!r})"


def assess(value: Any, context: dict[str, Any]) -> Assessment:
    """Judge a recorded table (see :func:`judge_behaviour`), keeping the failing run."""
    from course.mutex._checks import check_fairness, check_liveness, check_safety
    from course.mutex._explore import explore
    from course.sim import simulate

    who = str(context.get("call") or "your algorithm")
    if type(value) is not dict or value.get("format") != FORMAT:
        return Assessment(f"{who}: the recorded behaviour is missing or malformed (did not "
                          f"complete)")
    try:
        table = Table.from_json(value.get("table"))
    except (ValueError, TypeError, KeyError) as exc:
        return Assessment(f"{who}: the recorded behaviour is malformed ({exc}); did not "
                          f"complete")
    if table.conflicts:
        return Assessment(
            f"{who} does not behave as a function of its state and the message: "
            f"{table.conflicts[0] or 'one input had two different outcomes'}. Keep all state "
            f"in attributes of self, and iterate sets and dicts in sorted order.")
    config = config_from_spec(dict(context["config"]))
    alg = table_algorithm(table, name=str(context.get("fn") or "Recorded"))
    incomplete = (f"{who}: the recorded behaviour is incomplete (the grader's replay needed a "
                  f"transition that was not recorded: {{}}); did not complete")
    if context.get("explore"):
        result = explore(alg, config, fairness=bool(context.get("fairness", True)),
                         max_states=JUDGE_MAX_STATES)
        if alg.missing:  # type: ignore[attr-defined]
            return Assessment(incomplete.format(alg.missing[0]))  # type: ignore[attr-defined]
        if not result.exhausted:
            return Assessment(f"{who}: the search of every delivery order did not finish "
                              f"within {JUDGE_MAX_STATES:,} states under {config!r}")
        if not result.ok:
            try:
                run: Run | None = result.replay()
            except Exception:
                run = None
            return Assessment(f"{who} fails under some delivery order:\n{result.summary()}",
                              run)
    per_entry = context.get("per_entry")
    for seed in [int(s) for s in context.get("seeds", ())]:
        try:
            run = simulate(alg, config, seed)
        except IncompleteTable:
            return Assessment(incomplete.format(alg.missing[-1]))  # type: ignore[attr-defined]
        except NodeRaised as exc:
            return Assessment(f"{who} raised {exc} under {config!r}, seed {seed}")
        except Exception as exc:
            return Assessment(f"{who} broke the simulator's rules under {config!r}, seed "
                              f"{seed}: {exc}")
        checks = [check_safety(run), check_liveness(run)]
        if context.get("fairness", True):
            checks.append(check_fairness(run))
        bad = [v for v in checks if not v]
        if bad:
            return Assessment(f"{who} under {config!r}, seed {seed}: "
                              + "; ".join(str(v) for v in bad), run)
        if per_entry is not None:
            counts = run.messages_sent / max(1, len(run.entries))
            if counts != per_entry:
                return Assessment(
                    f"{who} under {config!r}, seed {seed}: {run.messages_sent} messages for "
                    f"{len(run.entries)} CS entries ({counts:g} per entry); the algorithm "
                    f"needs exactly {per_entry}", run)
    return Assessment(None)


def judge_behaviour(value: Any, context: dict[str, Any]) -> str | None:
    """The grader's verdict on a recorded table: None when every run holds, else why not.

    ``context`` (trusted: the case's context from the solution's authoring run) holds the
    ``config`` spec, the ``seeds`` to simulate, ``explore`` (search every delivery order),
    ``fairness`` (check the algorithm's fairness too) and ``per_entry`` (the exact number of
    messages per CS entry, or None)."""
    return assess(value, context).problem


def failure_figure(value: Any, context: dict[str, Any]) -> str | None:
    """The failing run drawn (CS timeline above, messages below) as a base64 PNG, or None."""
    found = assess(value, context)
    if found.problem is None or found.run is None or not len(found.run):
        return None
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")  # the grader has no display
    import matplotlib.pyplot as plt

    from course.mutex._plots import draw_run

    fig = draw_run(found.run)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
