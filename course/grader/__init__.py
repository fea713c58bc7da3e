"""Grading infrastructure (grader side only; nothing a student kernel imports).

* :class:`SandboxKernelManager` -- jupyter_client kernel manager that runs ipykernel in a
  bubblewrap box with cgroup limits (:mod:`._sandbox`, :mod:`._cgroups`, :mod:`._kernel`);
* :class:`Outcome`, :class:`NotebookRun`, :class:`SubmissionOutcome` -- every submission ends
  with a recorded outcome (:mod:`._outcomes`).
"""

from ._cgroups import Cgroup, CgroupError, CgroupEvents, cgroup_support
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

__all__ = [
    "PASS_ENV",
    "Cgroup",
    "CgroupError",
    "CgroupEvents",
    "NotebookRun",
    "Outcome",
    "SandboxKernelManager",
    "SandboxLimits",
    "SubmissionOutcome",
    "bwrap",
    "bwrap_argv",
    "cgroup_support",
    "classify",
    "ledger_dir",
    "read_outcomes",
    "read_runs",
    "sandbox_problem",
    "write_outcomes",
]
