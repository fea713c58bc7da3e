"""nbgrader plug-ins the course's ``nbgrader_config.py`` names.

* :class:`GuardedExecute` (autograde): a dead kernel does not abort the submission; the cell
  that was running and every later one get an error output naming what happened, cells that
  ran before keep their points; a timed-out cell says so.
* :class:`HideHiddenTests` (feedback): hidden test regions, and traceback frames quoting
  them, are removed from the feedback (jupyter/nbgrader#917).

:data:`STUCK` maps the ``ename`` of those error outputs to a phrase for the TA's report.
This module imports nbgrader; nothing a student kernel loads imports it.
"""

from __future__ import annotations

import re
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, Execute
from traitlets import Unicode

__all__ = ["STUCK", "GuardedExecute", "HideHiddenTests"]

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
    """nbgrader's Execute, but a dead kernel does not abort the submission.

    When the kernel dies (``os._exit``, a crash, out of memory) nbgrader 0.9.6 gives up on the
    whole submission: no scores are saved and the autograde run fails. Here the cell that was
    running gets a ``DeadKernelError`` output naming it, every later code cell a ``NotRun``
    output, and grading goes on: cells that ran before keep their points, the others score 0.
    A timed-out cell gets an explicit message too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": (f"this cell ran for more than {self.timeout} s and was interrupted "
                       f"(an infinite loop?)"),
            "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: this cell ran for more than "
                          f"{self.timeout} s and was interrupted (an infinite loop?)"],
        }

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._died_in: str | None = None
        self._who = _who(resources)
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if self._died_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", f"not run: the kernel died in "
                                                 f"{self._died_in}")]
                cell.execution_count = None
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = _cell_name(cell, index)
            cell.outputs.append(_error(
                "DeadKernelError", f"the kernel died while running this cell ({self._died_in}),"
                f" e.g. by os._exit(), sys.exit() in a thread, a crash or running out of "
                f"memory. This cell and every later cell score 0."))
            self.log.error("%s: the kernel died in %s; later cells are not run and score 0",
                           self._who, self._died_in)
            return cell, resources

    def on_cell_executed(self, **kwargs: Any) -> None:
        super().on_cell_executed(**kwargs)
        reply = kwargs.get("execute_reply") or {}
        if reply.get("content", {}).get("ename") == "CellTimeoutError":
            self.log.error("%s: %s timed out after %s s and was interrupted", self._who,
                           _cell_name(kwargs["cell"], kwargs.get("cell_index", -1)),
                           self.timeout)


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
                frames = []
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
