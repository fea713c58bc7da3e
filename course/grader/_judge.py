"""The judge: every graded test cell's verdict, decided in the grader process.

Protocol (the kernel side is :mod:`course._protocol`, the record layout
:mod:`course._records`):

1. :func:`inject` (by ``GuardedExecute``, before the kernel starts) draws a fresh nonce and
   prepends ``begin(<grade id>, <nonce>)`` to every graded code cell; it appends a *canary*
   cell that must fail and a *probe* cell that reports the kernel's state.
2. The kernel runs; each ``case(...)`` in a test cell emits a record instead of deciding.
3. :func:`judge_notebook` (the ``Judge`` preprocessor, before ``SaveAutoGrades``) restores
   the cells' sources, removes the injected cells, and for each graded code cell compares
   the records carrying this run's nonce and that cell's id with the expected values kept
   grader-side (``expected/<assignment>.json``, written by ``course expected``). The cell's
   outputs are replaced by the verdict: one line when every case is right, else an error
   output with the explanation -- which is all nbgrader's scoring and the feedback see. A
   case without a record, or with a malformed one, fails ("did not complete").
4. Signs of tampering become *flags* for the TA (they never change a score): a canary that
   passed, records in the wrong place or from another run, a test cell that ran without
   reporting, a kernel state that differs from the solution's run.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode

from course._checks import _safe_name, decide, figure_of
from course._records import MIME, MalformedRecord, Record, decode, encode, parse_record, same

from ._outcomes import write_json_atomic

__all__ = ["CellVerdict", "JudgeReport", "Spec", "inject", "judge_notebook", "load_spec",
           "read_judge_reports", "records_of"]

_INJECTED = "course_injected"
#: Error names the grader itself writes (timeouts, dead kernels): their messages are shown.
_GRADER_ERRORS = {"CellTimeoutError", "KeyboardInterrupt", "DeadKernelError", "NotRun"}
PROBE_CELL = "__probe__"


@dataclass(frozen=True)
class Spec:
    """The grader-side expectations of one notebook: cell -> (hidden, ordered cases), and the
    solution's probe (the kernel state of an honest run)."""

    cells: dict[str, tuple[bool, list[dict[str, Any]]]]
    probe: Any = None

    def __repr__(self) -> str:
        n = sum(len(c) for _, c in self.cells.values())
        return f"Spec({len(self.cells)} cells, {n} cases)"


def load_spec(root: Path, assignment: str, notebook: str) -> Spec | None:
    """The expectations for ``notebook`` from ``<root>/expected/<assignment>.json``."""
    path = root / "expected" / f"{assignment}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    nb = data.get("notebooks", {}).get(notebook)
    if nb is None:
        return None
    cells = {cid: (bool(c["hidden"]), list(c["cases"])) for cid, c in nb["cells"].items()}
    return Spec(cells, nb.get("probe"))


def _grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution"):
        return str(meta.get("grade_id"))
    return None


def inject(nb: NotebookNode, *, nonce: str | None = None, author: bool = False) -> str:
    """Prepare ``nb`` for a grading (or authoring) run in place; returns the nonce."""
    nonce = nonce or secrets.token_hex(16)
    flag = ", author=True" if author else ""
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid is not None:
            cell.metadata.setdefault("course", {})["source"] = cell.source
            cell.source = (f"import course.grading as _course_grading; "
                           f"_course_grading.begin({gid!r}, {nonce!r}{flag})\n{cell.source}")
    canary = NotebookNode(cell_type="code", execution_count=None, outputs=[], source=(
        f"raise AssertionError('course canary {nonce}')"),
        metadata={_INJECTED: "canary"})
    probe = NotebookNode(cell_type="code", execution_count=None, outputs=[], source=(
        f"import course.grading as _course_grading\n"
        f"_course_grading.begin({PROBE_CELL!r}, {nonce!r}{flag})\n"
        f"_course_grading.probe();"), metadata={_INJECTED: "probe"})
    nb.cells.extend([canary, probe])
    return nonce


def records_of(cell: NotebookNode) -> tuple[list[Record], int]:
    """The well-formed records among a cell's outputs, and how many were malformed."""
    found, bad = [], 0
    for out in cell.get("outputs", []):
        data = out.get("data", {}) if out.get("output_type") in ("display_data",
                                                                   "execute_result") else {}
        if MIME in data:
            try:
                found.append(parse_record(data[MIME]))
            except MalformedRecord:
                bad += 1
    return found, bad


def _strip_records(cell: NotebookNode) -> None:
    cell.outputs = [o for o in cell.get("outputs", [])
                    if MIME not in (o.get("data", {}) if hasattr(o, "get") else {})]


@dataclass(frozen=True)
class CellVerdict:
    """One graded cell's verdict."""

    cell: str
    ok: bool
    message: str
    cases: int
    ename: str = "AssertionError"  # the error output's name when wrong
    figure: str | None = None  # a base64 PNG of the failure (e.g. ps3's violating run)

    def __repr__(self) -> str:
        return f"CellVerdict({self.cell}: {'right' if self.ok else 'wrong'}, {self.cases} cases)"


@dataclass
class JudgeReport:
    """The judge's findings on one notebook; written grader-side next to the run record."""

    student: str
    assignment: str
    notebook: str
    verdicts: list[CellVerdict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        right = sum(v.ok for v in self.verdicts)
        return (f"JudgeReport({self.student}/{self.assignment}/{self.notebook}: {right}/"
                f"{len(self.verdicts)} cells right, {len(self.flags)} flag(s))")

    def write_to(self, folder: Path) -> Path:
        return write_json_atomic(
            folder / self.assignment / self.student / f"{self.notebook}.json", asdict(self))


def read_judge_reports(root: Path, assignment: str, student: str) -> list[JudgeReport]:
    folder = root / ".grading" / "judge" / assignment / student
    out = []
    for p in sorted(folder.glob("*.json")):
        data = json.loads(p.read_text())
        data["verdicts"] = [CellVerdict(**v) for v in data["verdicts"]]
        out.append(JudgeReport(**data))
    return out


_PRIORITY = ["DeadKernelError", "CellTimeoutError", "NotRun", "KeyboardInterrupt"]


def _kernel_error(cell: NotebookNode) -> tuple[str, str] | None:
    """The cell's error output; the grader's own (timeout, dead kernel) first."""
    errors = [(str(o.get("ename", "")), str(o.get("evalue", "")))
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    errors.sort(key=lambda e: _PRIORITY.index(e[0]) if e[0] in _PRIORITY else len(_PRIORITY))
    return errors[0] if errors else None


def _judge_cell(cell: NotebookNode, gid: str, spec: Spec | None, nonce: str,
                flags: list[str]) -> CellVerdict:
    if spec is None or gid not in spec.cells:
        return CellVerdict(gid, False, "This test cell has no grader-side expected values, so "
                           "it cannot be judged (the instructor must run `course expected "
                           "--write`).", 0)
    hidden, cases = spec.cells[gid]
    records, bad = records_of(cell)
    if bad:
        flags.append(f"{gid}: {bad} malformed record(s)")
    mine: dict[str, list[Record]] = {}
    for r in records:
        if r.nonce != nonce:
            flags.append(f"{gid}: a record from another grading run (wrong nonce)")
        elif r.cell != gid:
            flags.append(f"{gid}: a record claiming to come from cell {r.cell!r}")
        else:
            mine.setdefault(r.key, []).append(r)
    wanted = {str(c["key"]) for c in cases}
    extra = sorted(set(mine) - wanted)
    if extra:
        flags.append(f"{gid}: records for cases the test does not have: {extra[:5]}")
    if not mine and cell.get("execution_count") is not None and _kernel_error(cell) is None:
        flags.append(f"{gid}: the test cell ran without error but reported no results (was "
                     f"its code replaced?)")
    for c in cases:
        key = str(c["key"])
        got = mine.get(key, [])
        if len({json.dumps(r.to_json(), sort_keys=True) for r in got}) > 1:
            flags.append(f"{gid}: conflicting records for case {key!r}")
            return CellVerdict(gid, False, f"The test reported case {key!r} more than once, "
                               f"with different results.", len(cases))
        if not got:
            err = _kernel_error(cell)
            why, ename = "", "AssertionError"
            if err is not None:
                shown = not hidden or err[0] in _GRADER_ERRORS
                why = f" The cell stopped with {err[0]}" + (f": {err[1][:500]}" if shown
                                                            else "") + "."
                ename = err[0] if err[0] in _GRADER_ERRORS else ename
            return CellVerdict(gid, False, f"The test did not complete: no result for case "
                               f"{key!r}.{why}", len(cases), ename)
        r = got[0]
        context = decode(c.get("context")) if c.get("context") is not None else {}
        problem = decide(str(c["check"]), r.value, r.raised, c["want"], context, hidden)
        if problem is not None:
            ename = "AssertionError"
            if r.raised is not None:
                ename = _safe_name(r.raised[0])  # the student's own exception, by name
            figure = figure_of(str(c["check"]), r.value, context) if r.raised is None else None
            return CellVerdict(gid, False, problem, len(cases),
                               ename if ename != "an exception" else "Exception", figure)
    return CellVerdict(gid, True, f"Judged by the grader: all {len(cases)} case(s) right.",
                       len(cases))


#: What an ungraded cell shows when it used a library tool built on a withheld reference
#: answer (e.g. a diagram that highlights happens-before in ps2): not an error of the student.
_WITHHELD_NOTE = NotebookNode(output_type="stream", name="stdout", text=(
    "(Not run while grading: this cell uses a course library tool built on the reference "
    "answer of this assignment, which is absent from the grading kernel. It runs as usual "
    "in your own JupyterLab.)\n"))


def _verdict_outputs(v: CellVerdict) -> list[NotebookNode]:
    if v.ok:
        return [NotebookNode(output_type="stream", name="stdout", text=v.message + "\n")]
    error = NotebookNode(output_type="error", ename=v.ename, evalue=v.message,
                         traceback=[f"{v.ename}: {v.message}"])
    if v.figure is None:
        return [error]
    picture = NotebookNode(output_type="display_data", metadata={}, data={
        "image/png": v.figure, "text/plain": "<the run that fails, drawn by the grader>"})
    return [picture, error]


def _probe_flags(found: Any, baseline: Any) -> list[str]:
    if baseline is None:
        return []
    try:
        got, base = decode(found), decode(baseline)
    except MalformedRecord:
        return ["the kernel-state probe sent a malformed report"]
    if not isinstance(got, dict) or not isinstance(base, dict):
        return ["the kernel-state probe sent a malformed report"]
    out = []
    for key, want in base.items():
        have = got.get(key)
        if isinstance(want, list) and isinstance(have, list):
            new = [x for x in have if x not in want]
            if new:
                out.append(f"{key.replace('_', ' ')}: {', '.join(map(str, new[:6]))}")
        elif not same(encode(have), encode(want)):
            out.append(f"{key.replace('_', ' ')}: changed")
    return out


def judge_notebook(nb: NotebookNode, spec: Spec | None, nonce: str, *, died: bool = False,
                   report: JudgeReport | None = None) -> JudgeReport:
    """Judge ``nb`` (after its run) in place; see the module docstring."""
    report = report or JudgeReport("?", "?", "?")
    flags = report.flags
    kept = []
    for index, cell in enumerate(nb.cells):
        role = cell.get("metadata", {}).get(_INJECTED)
        if role == "canary":
            err = _kernel_error(cell)
            if not died and (err is None or nonce not in err[1]):
                flags.append("a grader canary that must fail passed: test cells are being "
                             "rewritten (an input/AST transformer or an execution hook)")
            continue
        if role == "probe":
            records, _ = records_of(cell)
            probes = [r for r in records if r.nonce == nonce and r.cell == PROBE_CELL
                      and r.key == "probe" and r.raised is None]
            if probes:
                flags += [f"kernel state: {f}" for f in
                          _probe_flags(probes[0].value, spec.probe if spec else None)]
            elif not died:
                flags.append("the grader's kernel-state probe did not report (rebound?)")
            continue
        saved = cell.get("metadata", {}).get("course", {}).pop("source", None)
        if saved is not None:
            cell.source = saved
            if not cell.metadata["course"]:
                del cell.metadata["course"]
        gid = _grade_id(cell)
        if gid is not None:
            verdict = _judge_cell(cell, gid, spec, nonce, flags)
            report.verdicts.append(verdict)
            cell.outputs = _verdict_outputs(verdict)
        elif cell.get("cell_type") == "code":
            found, bad = records_of(cell)
            if found or bad:
                flags.append(f"cell {index}: test records emitted outside a test cell")
            _strip_records(cell)
            cell.outputs = [_WITHHELD_NOTE if o.get("output_type") == "error"
                            and o.get("ename") == "Withheld" else o for o in cell.outputs]
        kept.append(cell)
    nb.cells = kept
    return report
