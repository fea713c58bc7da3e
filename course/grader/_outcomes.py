"""Every submission ends with a recorded outcome.

Two records, both written grader-side (outside every sandbox):

* :class:`NotebookRun` -- one notebook's execution, written by ``GuardedExecute`` when it
  finishes with the notebook (also when the kernel died or hung) to
  ``<root>/.grading/runs/<assignment>/<student>/<notebook>.json``;
* :class:`SubmissionOutcome` -- one student's submission of an assignment, decided by
  ``course grade`` from the pre-check and the notebook runs, kept in
  ``<root>/.grading/outcomes-<assignment>.json`` and added to ``grades.csv``.

A submission without a run record was never executed to the end (the grader failed on it):
``course grade`` retries it alone, and if it still has none its outcome is ``grader error``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["NotebookRun", "Outcome", "SubmissionOutcome", "classify", "ledger_dir",
           "read_outcomes", "read_runs", "write_outcomes"]


class Outcome(StrEnum):
    """What happened to a submission, most severe first (a submission gets the most severe
    of its notebooks'). Only ``graded`` means every cell ran to completion."""

    NOT_SUBMITTED = "not submitted"
    REJECTED = "rejected"  # the submission folder is unsafe to grade (e.g. a symlink)
    NOTEBOOK_MISSING = "notebook missing"
    UNREADABLE = "unreadable notebook"
    SANDBOX_FAILURE = "sandbox failure"
    GRADER_ERROR = "grader error"
    MEMORY_LIMIT = "memory limit"
    KERNEL_DIED = "kernel died"
    PROCESS_LIMIT = "process limit"
    TIMED_OUT = "timed out"
    OUTPUT_LIMIT = "output limit"
    GRADED = "graded"

    @property
    def severity(self) -> int:
        return list(Outcome).index(self)

    @property
    def scored(self) -> bool:
        """nbgrader recorded scores for it (possibly partial)."""
        return self in {Outcome.MEMORY_LIMIT, Outcome.KERNEL_DIED, Outcome.PROCESS_LIMIT,
                        Outcome.TIMED_OUT, Outcome.OUTPUT_LIMIT, Outcome.GRADED}


@dataclass(frozen=True)
class NotebookRun:
    """One notebook's execution in the sandbox, as the grader saw it."""

    student: str
    assignment: str
    notebook: str
    outcome: Outcome
    detail: str = ""
    sandboxed: bool = True
    cells_run: int = 0
    timed_out: tuple[str, ...] = ()
    oom_kills: int = 0
    pids_max: int = 0
    box: str = ""  # the sandbox's name (temp directory and cgroup), gone once it finished

    def __repr__(self) -> str:
        return (f"NotebookRun({self.student}/{self.assignment}/{self.notebook}: "
                f"{self.outcome.value}{', ' + self.detail if self.detail else ''})")

    def write_to(self, runs: Path) -> Path:
        """Write the record under ``runs`` (``<root>/.grading/runs``), atomically."""
        return write_json_atomic(runs / self.assignment / self.student / f"{self.notebook}.json",
                                 {**asdict(self), "outcome": self.outcome.value})

    @classmethod
    def read(cls, path: Path) -> NotebookRun:
        data = json.loads(path.read_text())
        data["outcome"] = Outcome(data["outcome"])
        data["timed_out"] = tuple(data.get("timed_out", ()))
        return cls(**data)


def write_json_atomic(path: Path, data: object) -> Path:
    """Write ``data`` as JSON to ``path`` (folders made) via a temporary file and a rename, so
    a reader (the progress bar, a parallel grader) never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    return path


def ledger_dir(root: Path, assignment: str) -> Path:
    return root / ".grading" / "runs" / assignment


def read_runs(root: Path, assignment: str, student: str) -> dict[str, NotebookRun]:
    """The run records of one student's notebooks (notebook name -> record)."""
    folder = ledger_dir(root, assignment) / student
    return {p.stem: NotebookRun.read(p) for p in sorted(folder.glob("*.json"))}


@dataclass
class SubmissionOutcome:
    """One student's submission: its outcome, why, and whether it ran in the sandbox."""

    student: str
    outcome: Outcome
    detail: str = ""
    sandboxed: bool = True
    notebooks: dict[str, str] = field(default_factory=dict)  # notebook -> its outcome
    digest: str = ""  # SHA-256 of the submission folder when it was graded
    flags: list[str] = field(default_factory=list)  # the judge's signs of tampering

    def __repr__(self) -> str:
        flagged = f", flagged: {len(self.flags)}" if self.flags else ""
        return f"SubmissionOutcome({self.student}: {self.outcome.value} {self.detail!r}{flagged})"

    @property
    def flagged(self) -> str:
        """``"flagged: <reasons>"`` for the CSV and the report, or ``""``."""
        return ("flagged: " + "; ".join(self.flags)) if self.flags else ""


def classify(student: str, expected: list[str], runs: dict[str, NotebookRun],
             problem: tuple[Outcome, str] | None = None) -> SubmissionOutcome:
    """Decide a submission's outcome from the pre-check's ``problem`` (if any) and the run
    records of the ``expected`` notebooks: the most severe notebook outcome wins; a notebook
    without a record is a grader error."""
    if problem is not None:
        return SubmissionOutcome(student, problem[0], problem[1],
                                 sandboxed=bool(runs) and all(r.sandboxed for r in runs.values()))
    per: dict[str, tuple[Outcome, str]] = {}
    for nb in expected:
        run = runs.get(nb)
        per[nb] = ((run.outcome, run.detail) if run is not None else
                   (Outcome.GRADER_ERROR, "nbgrader did not finish this notebook (see the "
                                          "autograde log)"))
    worst = min(per.values(), key=lambda od: od[0].severity) if per else \
        (Outcome.GRADER_ERROR, "no notebooks")
    details = [f"{nb}: {d}" if len(per) > 1 else d for nb, (o, d) in per.items()
               if o is not Outcome.GRADED and d]
    return SubmissionOutcome(student, worst[0], "; ".join(details),
                             sandboxed=bool(runs) and all(r.sandboxed for r in runs.values()),
                             notebooks={nb: o.value for nb, (o, _) in per.items()})


def write_outcomes(root: Path, assignment: str, outcomes: dict[str, SubmissionOutcome]) -> Path:
    path = root / ".grading" / f"outcomes-{assignment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {s: {**asdict(o), "outcome": o.outcome.value} for s, o in sorted(outcomes.items())}
    path.write_text(json.dumps(data, indent=1))
    return path


def read_outcomes(root: Path, assignment: str) -> dict[str, SubmissionOutcome]:
    path = root / ".grading" / f"outcomes-{assignment}.json"
    if not path.is_file():
        return {}
    out = {}
    for student, data in json.loads(path.read_text()).items():
        data["outcome"] = Outcome(data["outcome"])
        out[student] = SubmissionOutcome(**data)
    return out
