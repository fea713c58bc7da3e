"""Grading infrastructure (grader side only; nothing a student kernel imports).

* :class:`SandboxKernelManager` -- jupyter_client kernel manager that runs ipykernel in a
  bubblewrap box with cgroup limits (:mod:`._sandbox`, :mod:`._cgroups`, :mod:`._kernel`);
* :class:`Outcome`, :class:`NotebookRun`, :class:`SubmissionOutcome` -- every submission ends
  with a recorded outcome (:mod:`._outcomes`);
* :func:`inject`, :func:`judge_notebook`, :class:`JudgeReport` -- the grading protocol's
  grader side: verdicts decided outside the student's kernel (:mod:`._judge`);
* :func:`withheld_package` -- the copy of ``course`` a grading kernel gets, without the
  reference answers of the graded parts (:mod:`._withhold`).
"""

from ._cgroups import Cgroup, CgroupError, CgroupEvents, cgroup_support
from ._judge import (
    CellVerdict,
    JudgeReport,
    Spec,
    inject,
    judge_notebook,
    load_spec,
    read_judge_reports,
    records_of,
)
from ._kernel import PASS_ENV, SandboxKernelManager
from ._outcomes import (
    NotebookRun,
    Outcome,
    SubmissionOutcome,
    classify,
    ledger_dir,
    read_outcomes,
    read_runs,
    write_outcomes,
)
from ._sandbox import SandboxLimits, bwrap, bwrap_argv, sandbox_problem
from ._withhold import withheld_package

__all__ = [
    "PASS_ENV",
    "CellVerdict",
    "Cgroup",
    "CgroupError",
    "CgroupEvents",
    "JudgeReport",
    "NotebookRun",
    "Outcome",
    "SandboxKernelManager",
    "SandboxLimits",
    "Spec",
    "SubmissionOutcome",
    "bwrap",
    "bwrap_argv",
    "cgroup_support",
    "classify",
    "inject",
    "judge_notebook",
    "ledger_dir",
    "load_spec",
    "read_judge_reports",
    "read_outcomes",
    "read_runs",
    "records_of",
    "sandbox_problem",
    "withheld_package",
    "write_outcomes",
]
