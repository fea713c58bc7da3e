"""nbgrader plug-ins the course's ``nbgrader_config.py`` names.

* :class:`GuardedExecute` (autograde): a dead kernel does not abort the submission; the cell
  that was running and every later one get an error output naming what happened, cells that
  ran before keep their points; a timed-out cell says so.
* :class:`HideHiddenTests` (feedback): hidden test regions, and traceback frames quoting
  them, are removed from the feedback (jupyter/nbgrader#917).
* :class:`OptionalParts` (generate_assignment): an optional part that the course has not
  switched on is left out of release/ and of the gradebook.

:data:`STUCK` maps the ``ename`` of those error outputs to a phrase for the TA's report.
This module imports nbgrader; nothing a student kernel loads imports it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import v4 as nbformat_v4
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import (
    ClearHiddenTests,
    DeduplicateIds,
    Execute,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets import Bool, Dict, Integer, List, Unicode

__all__ = ["STUCK", "GuardedExecute", "HideHiddenTests", "Judge", "OptionalParts", "RestoreCells",
           "UniqueIds"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: ``ename`` of the error outputs that mean "this cell did not finish": nbclient's timeout,
#: the interrupt it sends, and GuardedExecute's kernel-death markers.
STUCK = {"CellTimeoutError": "timed out (infinite loop?)",
         "KeyboardInterrupt": "timed out and was interrupted (infinite loop?)",
         "DeadKernelError": "killed the kernel",
         "NotRun": "not run: the kernel had died earlier"}


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def _cell_name(cell: NotebookNode, index: int) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {index} ({gid})" if gid else f"cell {index}"


class GuardedExecute(Execute):
    """nbgrader's Execute, in the sandbox, and no submission lost to its kernel.

    * ``sandbox`` (default True): the kernel is a :class:`course.grader.SandboxKernelManager`
      (bubblewrap + cgroup limits, configured on that class).
    * A dead kernel (``os._exit``, a crash, the memory limit) does not abort the submission, as
      it does in nbgrader 0.9.6: the cell that was running gets a ``DeadKernelError`` output
      naming it, every later code cell a ``NotRun`` output; cells that ran before keep their
      points.
    * A timed-out cell is interrupted; a kernel that ignores the interrupt and stays busy is
      killed (nbgrader would drop the whole submission's scores): same outputs as above.
    * Output beyond ``max_output_bytes`` per notebook is dropped (one marker says so).
    * Every notebook it runs ends with a :class:`course.grader.NotebookRun` record written
      grader-side to ``<ledger>/<assignment>/<student>/<notebook>.json``.
    * ``protocol`` (default True): the grading protocol (:mod:`course.grader._judge`): test
      cells get this run's nonce and only report results; :class:`Judge`, which must follow
      in the autograde preprocessors, decides every verdict.
    * ``withhold``: per assignment, the library objects (``"module:qualname"``) that are
      absent from the box (their reference answers; :func:`course.grader.withheld_package`).
    """

    protocol = Bool(True, help="Run test cells under the grading protocol (needs Judge)").tag(
        config=True)
    withhold = Dict(value_trait=List(Unicode()), default_value={},
                    help="assignment -> library objects absent from its grading kernels"
                    ).tag(config=True)

    sandbox = Bool(True, help="Run kernels in the sandbox (course.grader)").tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Outputs kept per notebook (bytes)").tag(
        config=True)
    max_record_bytes = Integer(50_000_000, help="Test result records kept per notebook "
                               "(bytes; the grading protocol's channel)").tag(config=True)
    ledger = Unicode("", help="Folder of the run records; default <course root>/.grading/runs"
                     ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.sandbox:
            from course.grader import SandboxKernelManager

            self.kernel_manager_class = SandboxKernelManager
        self.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": (f"this cell ran for more than {self.timeout} s and was interrupted "
                       f"(an infinite loop?)"),
            "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: this cell ran for more than "
                          f"{self.timeout} s and was interrupted (an infinite loop?)"],
        }

    _box_km: Any = None

    def create_kernel_manager(self) -> Any:
        self._box_km = super().create_kernel_manager()
        names = self.withhold.get(self._assignment, [])
        if names and self.sandbox:
            self._box_km.withhold = list(names)
        return self._box_km

    def _check_judge_follows(self) -> None:
        """Refuse to run the protocol where no Judge would decide the verdicts: the test
        cells only report, so without it every answer would score full marks."""
        try:
            listed = self.config.Autograde.autograde_preprocessors
        except AttributeError:
            return
        if not isinstance(listed, list):
            return
        names = [p if isinstance(p, str) else f"{p.__module__}.{p.__name__}" for p in listed]
        if "course.nbplugins.Judge" not in names:
            raise RuntimeError("GuardedExecute runs the grading protocol, so "
                               "course.nbplugins.Judge must follow it in "
                               "Autograde.autograde_preprocessors (or set "
                               "GuardedExecute.protocol = False)")

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        from course.grader import NotebookRun, Outcome

        self._died_in: str | None = None
        self._why: Outcome | None = None
        self._timed_out: list[str] = []
        self._output_bytes = 0
        self._record_bytes = 0
        self._output_capped = False
        self._cells_run = 0
        self._box_km = None
        self._who = _who(resources)
        self._assignment = (resources or {}).get("nbgrader", {}).get("assignment", "")
        outcome, detail = Outcome.GRADER_ERROR, "the grader failed while running this notebook"
        if self.protocol:
            from course.grader import inject

            self._check_judge_follows()
            if resources is None:
                resources = {}
            resources.setdefault("course", {})["nonce"] = inject(nb)
        try:
            result = super().preprocess(nb, resources, km)
            outcome, detail = self._verdict()
            return result
        except Exception as e:
            if self.sandbox and self._cells_run == 0:
                outcome = Outcome.SANDBOX_FAILURE
            detail = f"{type(e).__name__}: {e}"[:500]
            raise
        finally:
            if resources is not None and "course" in resources:
                resources["course"]["died"] = self._died_in is not None
            events = self._events()
            info = (resources or {}).get("nbgrader", {})
            if info.get("student") and info.get("assignment"):
                NotebookRun(info["student"], info["assignment"], info.get("notebook", "?"),
                            outcome, detail, sandboxed=self.sandbox, cells_run=self._cells_run,
                            timed_out=tuple(self._timed_out), oom_kills=events[0],
                            pids_max=events[1], box=getattr(self._box_km, "box_name", "")
                            ).write_to(self._ledger(resources))

    def _events(self) -> tuple[int, int]:
        get = getattr(self._box_km, "sandbox_events", None)
        if get is None:
            return 0, 0
        ev = get()
        return ev.oom_kills, ev.pids_max

    def _verdict(self) -> tuple[Any, str]:
        from course.grader import Outcome

        oom, pids = self._events()
        if self._died_in is not None:
            if oom:
                return Outcome.MEMORY_LIMIT, (f"the kernel exceeded its memory limit in "
                                              f"{self._died_in}")
            return self._why or Outcome.KERNEL_DIED, f"the kernel died in {self._died_in}"
        if self._timed_out:
            return Outcome.TIMED_OUT, "timed out: " + ", ".join(self._timed_out)
        if pids:
            return Outcome.PROCESS_LIMIT, f"refused {pids} process/thread creation(s)"
        if self._output_capped:
            return Outcome.OUTPUT_LIMIT, f"output beyond {self.max_output_bytes} bytes dropped"
        return Outcome.GRADED, ""

    def _ledger(self, resources: Any) -> Path:
        if self.ledger:
            return Path(self.ledger)
        return _course_root(resources) / ".grading" / "runs"

    def _kill(self, cell: NotebookNode, index: int, ename: str, why: str) -> None:
        self._died_in = _cell_name(cell, index)
        cell.outputs.append(_error(ename, why.format(cell=self._died_in)))
        if self._box_km is not None and hasattr(self._box_km, "kill_sandbox"):
            self._box_km.kill_sandbox()

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if self._died_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", f"not run: the kernel died in "
                                                 f"{self._died_in}")]
                cell.execution_count = None
            return cell, resources
        try:
            result = super().preprocess_cell(cell, resources, index)
            if cell.cell_type == "code":
                self._cells_run += 1
            return result
        except DeadKernelError:
            self._kill(cell, index, "DeadKernelError",
                       "the kernel died while running this cell ({cell}), e.g. by os._exit(), "
                       "a crash or running out of memory. This cell and every later cell "
                       "score 0.")
            self.log.error("%s: the kernel died in %s; later cells are not run and score 0",
                           self._who, self._died_in)
            return cell, resources
        except CellTimeoutError:
            from course.grader import Outcome

            if _cell_name(cell, index) not in self._timed_out:
                self._timed_out.append(_cell_name(cell, index))
            self._why = Outcome.TIMED_OUT
            self._kill(cell, index, "CellTimeoutError",
                       f"this cell ({{cell}}) ran for more than {self.timeout} s and ignored "
                       f"the interrupt, so its kernel was stopped. This cell and every later "
                       f"cell score 0.")
            self.log.error("%s: %s timed out and ignored the interrupt; the kernel was killed",
                           self._who, self._died_in)
            return cell, resources

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        size = len(json.dumps(msg.get("content", {}), default=str))
        from course._records import MIME

        if MIME in (msg.get("content", {}).get("data") or {}):
            # A test's result record: counted apart, so that a print flood in an answer cell
            # does not cost the later tests their results (records have their own budget).
            self._record_bytes += size
            if self._record_bytes > self.max_record_bytes:
                self._output_capped = True
                return None
            return super().output(outs, msg, display_id, cell_index)
        self._output_bytes += size
        if self._output_bytes > self.max_output_bytes:
            if not self._output_capped:
                self._output_capped = True
                outs.append(NotebookNode(output_type="stream", name="stdout", text=(
                    f"\n[output limit: this notebook printed more than "
                    f"{self.max_output_bytes} bytes; the rest is not kept]\n")))
                self.log.error("%s: output beyond %s bytes dropped", self._who,
                               self.max_output_bytes)
            return None
        return super().output(outs, msg, display_id, cell_index)

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        reply = kwargs.get("execute_reply") or {}
        if reply.get("content", {}).get("ename") == "CellTimeoutError":
            name = _cell_name(kwargs["cell"], kwargs.get("cell_index", -1))
            self._timed_out.append(name)
            self.log.error("%s: %s timed out after %s s and was interrupted", self._who,
                           name, self.timeout)


class Judge(NbGraderPreprocessor):
    """Autograde: decide every graded test cell's verdict in the grader (after
    :class:`GuardedExecute`, before nbgrader's ``SaveAutoGrades``).

    Reads the records each test cell emitted, compares them with the expected values in
    ``<course root>/expected/<assignment>.json`` (never in the kernel), and replaces the cell's
    outputs with the verdict; see :mod:`course.grader._judge`. The judge's report (verdicts
    and tamper flags) goes to ``<reports>/<assignment>/<student>/<notebook>.json``.
    """

    reports = Unicode("", help="Folder of the judge reports; default <course root>/.grading/"
                      "judge").tag(config=True)
    expected_root = Unicode("", help="Course root holding expected/; default: the one the "
                            "notebook is graded in").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any) -> Any:
        from course.grader import JudgeReport, judge_notebook, load_spec

        info = resources.get("nbgrader", {})
        root = _course_root(resources)
        spec = load_spec(Path(self.expected_root) if self.expected_root else root,
                         info.get("assignment", ""), info.get("notebook", ""))
        state = resources.get("course", {})
        report = JudgeReport(info.get("student", "?"), info.get("assignment", "?"),
                             info.get("notebook", "?"))
        nonce = state.get("nonce")
        if nonce is None:  # no protocol run: nothing the kernel said can be trusted
            spec, nonce = None, "(none)"
            report.flags.append("not run under the grading protocol")
        judge_notebook(nb, spec, nonce, died=bool(state.get("died")), report=report)
        if report.flags:
            self.log.warning("%s: flagged: %s", _who(resources), "; ".join(report.flags))
        if info.get("student") and info.get("assignment"):
            report.write_to(Path(self.reports) if self.reports else
                            root / ".grading" / "judge")
        return nb, resources


def _course_root(resources: Any) -> Path:
    """The course root of the notebook being processed (<root>/autograded/<student>/<a>)."""
    path = Path((resources or {}).get("metadata", {}).get("path", "."))
    return path.resolve().parents[2]


_PART = re.compile(r"## Part ([A-Z])\b")


class OptionalParts(NbGraderPreprocessor):
    """generate_assignment (first): leave out each optional part that is switched off.

    ``optional`` declares, per assignment, the parts that are optional; ``include`` (the
    instructor's switch) the ones this course sets. A part is its ``## Part X`` heading cell
    and every cell after it up to the next ``#`` or ``##`` heading. A part left out is in
    neither release/ nor the gradebook, so it is not graded and counts in no total. An
    included part that is not declared optional, or an optional part the notebook has no
    heading for, is an error naming it.
    """

    optional = Dict(key_trait=Unicode(), value_trait=List(Unicode()),
                    help="Assignment id -> its optional part letters").tag(config=True)
    include = Dict(key_trait=Unicode(), value_trait=List(Unicode()),
                   help="Assignment id -> the optional parts this course sets").tag(config=True)
    # (not ``enabled``: that is every preprocessor's on/off switch)

    def preprocess(self, nb: NotebookNode, resources: Any) -> Any:
        assignment = resources.get("nbgrader", {}).get("assignment", "")
        declared, on = set(self.optional.get(assignment, ())), set(self.include.get(assignment, ()))
        for name, parts in self.include.items():
            extra = set(parts) - set(self.optional.get(name, ()))
            if extra:
                raise ValueError(
                    f"OptionalParts.include switches on {sorted(extra)} of {name!r}, which "
                    f"OptionalParts.optional does not declare optional "
                    f"({sorted(self.optional.get(name, ()))})")
        off, kept, dropping = declared - on, [], False
        found: set[str] = set()
        for cell in nb.cells:
            first = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
            if first.startswith(("# ", "## ")):
                m = _PART.match(first)
                dropping = m is not None and m[1] in off
                if m:
                    found.add(m[1])
            if not dropping:
                kept.append(cell)
        if declared - found:
            raise ValueError(f"{assignment}: no '## Part X' heading for the optional part(s) "
                             f"{sorted(declared - found)} (OptionalParts.optional)")
        if off:
            self.log.info("%s: optional part(s) %s left out (not in OptionalParts.include)",
                          assignment, ", ".join(sorted(off)))
        nb.cells = kept
        return nb, resources


class UniqueIds(DeduplicateIds):
    """Sanitizer: a copy-pasted nbgrader cell (duplicated ``grade_id``) becomes a plain cell.

    nbgrader's ``DeduplicateIds`` keeps the last copy and leaves the others with empty nbgrader
    metadata, on which its own ``OverwriteCells`` then fails (KeyError 'grade_id'), so the
    whole notebook went ungraded. Here the metadata of the extra copies is removed.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class RestoreCells(OverwriteCells):
    """Sanitizer: nbgrader's ``OverwriteCells``, and a deleted locked cell comes back.

    nbgrader 0.9.6 restores deleted grade cells (``add_missing_cells``) but not the other
    locked cells, e.g. the read-only set-up cell every later test relies on. Each missing
    locked cell is re-inserted from the gradebook after the nearest earlier cell of the source
    notebook that is present (or first).
    """

    def preprocess(self, nb: NotebookNode, resources: Any) -> Any:
        nb, resources = super().preprocess(nb, resources)
        from nbgrader.api import Gradebook

        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            source = gb.find_notebook(resources["nbgrader"]["notebook"],
                                      resources["nbgrader"]["assignment"]).source_cells
            cells = [(c.name, c.cell_type, c.source, c.locked) for c in source]
        for i, (name, cell_type, text, locked) in enumerate(cells):
            present = {c.metadata.get("nbgrader", {}).get("grade_id"): k
                       for k, c in enumerate(nb.cells)}
            if not locked or name in present:
                continue
            where = next((present[cells[j][0]] + 1 for j in range(i - 1, -1, -1)
                          if cells[j][0] in present), 0)
            meta = {"nbgrader": {"grade_id": name, "locked": True, "grade": False,
                                 "solution": False, "task": False, "schema_version": 3},
                    "editable": False, "deletable": False}
            new = (nbformat_v4.new_code_cell(text, metadata=meta) if cell_type == "code" else
                   nbformat_v4.new_markdown_cell(text, metadata=meta))
            nb.cells.insert(where, new)
            self.log.warning("Missing locked cell %s restored", name)
        return nb, resources


def _who(resources: Any) -> str:
    info = (resources or {}).get("nbgrader", {})
    return f"{info.get('student', '?')}/{info.get('assignment', '?')}/{info.get('notebook', '?')}"


class HideHiddenTests(ClearHiddenTests):
    """Feedback preprocessor: remove hidden test regions *and* their traces from outputs.

    nbgrader renders feedback from the autograded notebook, which holds the hidden tests
    (jupyter/nbgrader#917). This replaces each hidden region by a one-line placeholder and
    drops every traceback frame that quotes a line of it (IPython shows the failing line and
    its neighbours). The exception's own message, which the tests write for students, stays.
    """

    placeholder = Unicode("# (hidden tests ran here; their code is not part of the feedback)",
                          help="Replaces each hidden test region").tag(config=True)
    omitted_frame = Unicode("(a traceback frame inside the hidden tests is not shown)",
                            help="Replaces each traceback frame quoting hidden code"
                            ).tag(config=True)

    def hidden_lines(self, source: str) -> list[str]:
        out, inside = [], False
        for line in source.split("\n"):
            if self.begin_test_delimeter in line:
                inside = True
            elif self.end_test_delimeter in line:
                inside = False
            elif inside and len(line.strip()) >= 4:
                out.append(line.strip())
        return out

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or self.begin_test_delimeter not in cell.source:
            return super().preprocess_cell(cell, resources, index)
        hidden = self.hidden_lines(cell.source)
        visible = {ln.strip() for ln in _strip_region(cell.source, self.begin_test_delimeter,
                                                      self.end_test_delimeter, "").split("\n")}
        secret = [ln for ln in hidden if ln not in visible]
        markers = (self.begin_test_delimeter, self.end_test_delimeter)
        cell.source = _strip_region(cell.source, self.begin_test_delimeter,
                                    self.end_test_delimeter, self.placeholder)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                frames: list[str] = []
                for frame in out.get("traceback", []):
                    plain = ANSI.sub("", frame)
                    if any(s in plain for s in markers) or any(s in plain for s in secret):
                        if not frames or frames[-1] != self.omitted_frame:
                            frames.append(self.omitted_frame)
                    else:
                        frames.append(frame)
                out["traceback"] = frames
        return cell, resources


def _strip_region(source: str, begin: str, end: str, placeholder: str) -> str:
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            if placeholder:
                out.append(line[: len(line) - len(line.lstrip())] + placeholder)
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)
