"""From an LMS download to ``submitted/``: nbgrader's ``zip_collect`` with the LMS's file names.

``course grade ASSIGNMENT --from-zip FILE [--lms canvas|moodle|blackboard]`` copies ``FILE``
to ``downloaded/<assignment>/archive/``, runs ``nbgrader zip_collect`` with nbgrader's
``FileNameCollectorPlugin`` and the LMS's pattern (:data:`PATTERNS`), and lists every
extracted file the pattern did not match (never dropped silently), before grading.

File names as each LMS writes them in a bulk download (the notebook's own name at the end):

* Canvas: ``doejane_12345_6789012_ps1.ipynb``; late: ``doejane_late_12345_6789012_ps1.ipynb``;
  a resubmission renamed by Canvas: ``..._ps1-1.ipynb`` (student id: Canvas user id);
* Moodle: ``Jane Doe_123456_assignsubmission_file_ps1.ipynb`` (participant id);
* Blackboard: ``ps1_jdoe_attempt_2025-10-06-12-00-00_ps1.ipynb`` (user name).

nbgrader matches the pattern against each file's absolute path, hence the ``(?:.*/)?``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PATTERNS", "ZipCollect", "collect_zip"]

_DIR = r"^(?:.*/)?"
PATTERNS = {
    "canvas": _DIR + r"(?i:[a-z]+)(?i:_late)?_(?P<student_id>\d+)_\d+_(?P<file_id>[^/]+?)"
                     r"(?:-\d+)?\.ipynb$",
    "moodle": _DIR + r"[^/_]+_(?P<student_id>\d+)_assignsubmission_file_(?P<file_id>[^/]+?)"
                     r"\.ipynb$",
    "blackboard": _DIR + r"[^/]+?_(?P<student_id>[^/_]+)_attempt_[0-9-]+_"
                         r"(?P<file_id>[^/]+?)\.ipynb$",
}

@dataclass
class ZipCollect:
    """What ``--from-zip`` collected: students with files, files no pattern matched."""

    students: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    log: str = ""

    def __repr__(self) -> str:
        return f"ZipCollect({len(self.students)} students, {len(self.unmatched)} unmatched)"


def collect_zip(root: Path, assignment: str, archive: Path, lms: str,
                nbgrader: Callable[..., tuple[int, str]]) -> ZipCollect:
    """Collect ``archive`` into ``submitted/`` (see the module docstring)."""
    if lms not in PATTERNS:
        raise SystemExit(f"Unknown LMS {lms!r}: choose one of {', '.join(PATTERNS)}")
    if not archive.is_file():
        raise SystemExit(f"No such file: {archive}")
    base = root / "downloaded" / assignment
    shutil.rmtree(base, ignore_errors=True)
    (base / "archive").mkdir(parents=True)
    shutil.copy(archive, base / "archive" / archive.name)
    pattern = PATTERNS[lms]
    code, log = nbgrader("zip_collect", assignment, "--force",
                         "--ZipCollectApp.collector_plugin="
                         "nbgrader.plugins.FileNameCollectorPlugin",
                         f"--FileNameCollectorPlugin.named_regexp={pattern}")
    if code != 0:
        raise SystemExit(f"nbgrader zip_collect failed (exit {code}):\n{log[-3000:]}")
    out = ZipCollect(log=log)
    rx = re.compile(pattern)
    students = set()
    for p in sorted((base / "extracted").rglob("*")):
        if not p.is_file():
            continue
        m = rx.match(str(p))
        if m is None:
            out.unmatched.append(str(p.relative_to(base / "extracted")))
        else:
            students.add(m["student_id"])
    out.students = sorted(students)
    return out
