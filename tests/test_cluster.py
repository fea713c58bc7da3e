"""Grading on a real dask cluster into a real PostgreSQL gradebook, with a worker killed
mid-batch (issue 15's cluster half).

A scheduler and two workers run as separate ``dask`` processes on 127.0.0.1; PostgreSQL is a
throw-away server (tests/servers.py). A batch of ps1 and ps4 submissions is graded by
``course --db-url postgresql://... grade --scheduler tcp://...``, and one worker is killed
(SIGKILL) while it is grading a submission. The run must still record every submission
exactly once, with the scores and outcomes a local run gives. Those are the declared design
(tests/assignments.py: full marks, each zoo entry's designed losses, zero for the untouched
release), which the pipeline contract holds every local ``course grade`` to; comparing with
the declaration rather than grading the batch a second time keeps this test short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from assignments import ASSIGNMENTS
from pipeline import Course, nbgrader_env, zoo
from servers import DaskCluster, Postgres

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PS1_BUGS = ["no_tick_on_send", "receive_ignores_message", "kills_kernel"]
PS4_BUGS = ["wrong_grad"]


def _submissions(course: Course) -> None:
    bugs = zoo("ps1")
    for i in range(3):
        course.submit(f"ok{i}", "ps1", course.submission("ps1"))
    for name in PS1_BUGS:
        course.submit(name, "ps1", course.submission("ps1", bugs[name]))
    course.submit("blank", "ps1", course.submission("ps1", fill=False))
    bugs4 = zoo("ps4")
    course.submit("ok0", "ps4", course.submission("ps4"))
    for name in PS4_BUGS:
        course.submit(name, "ps4", course.submission("ps4", bugs4[name]))


def _course_cmd(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "course.cli", "--root", str(root), *args]


def _grade(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_course_cmd(root, *args), cwd=root, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)


def _children(pid: int) -> list[int]:
    """``pid``'s child processes (of any of its threads: a dask worker runs tasks, and so
    starts kernels, in a thread of its own)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _expected(assignment: str, student: str) -> dict[str, float]:
    """The per-cell scores a local run gives ``student`` (see the module docstring)."""
    spec = ASSIGNMENTS[assignment]
    if student.startswith("ok"):
        return dict(spec.points)
    if student == "blank":
        return dict.fromkeys(spec.points, 0.0)
    return spec.designed_scores(student)


@dataclass
class Graded:
    cluster: Path
    db_url: str
    killed_mid_task: bool
    logs: dict[str, str]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graded]:
    base = tmp_path_factory.mktemp("cluster")
    course = Course.create(base / "course", ["ps1", "ps4"], timeout=10)
    _submissions(course)
    logs: dict[str, str] = {}
    with Postgres() as pg, DaskCluster(base / "dask", workers=2,
                                       env=nbgrader_env()) as cluster:  # type: ignore[arg-type]
        url = pg.url("gradebook")
        cmd = _course_cmd(course.root, "--db-url", url, "grade", "ps1", "--scheduler",
                          cluster.address, "-q")
        proc = subprocess.Popen(cmd, cwd=course.root, env=nbgrader_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            # Kill worker 0 while it grades (its sandboxed kernel is its child), once at
            # least one submission has been recorded: mid-batch, mid-task.
            runs = course.root / ".grading" / "runs" / "ps1"
            victim, killed_mid_task = cluster.workers[0], False
            deadline = time.monotonic() + 300
            while proc.poll() is None and time.monotonic() < deadline:
                if _children(victim.pid) and any(runs.glob("*/*.json")):
                    cluster.kill_worker(0)
                    killed_mid_task = True
                    break
                time.sleep(0.05)
            out, _ = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
        logs["cluster ps1"] = out
        assert proc.returncode == 0, out[-4000:]
        done = _grade(course.root, "--db-url", url, "grade", "ps4", "--scheduler",
                      cluster.address, "-q")
        logs["cluster ps4"] = done.stdout + done.stderr
        assert done.returncode == 0, logs["cluster ps4"][-4000:]
        yield Graded(course.root, url, killed_mid_task, logs)


def _scores(root: Path, assignment: str, db_url: str) -> dict[str, dict[str, float]]:
    from course.cli import batch_report

    return {s: r.scores for s, r in batch_report(root, assignment, db_url).items()}


def _outcomes(root: Path, assignment: str) -> dict[str, str]:
    data = json.loads((root / ".grading" / f"outcomes-{assignment}.json").read_text())
    return {s: o["outcome"] for s, o in data.items()}


def test_a_worker_was_killed_while_grading(graded: Graded) -> None:
    assert graded.killed_mid_task, graded.logs["cluster ps1"][-3000:]


@pytest.mark.parametrize("assignment", ["ps1", "ps4"])
def test_every_submission_recorded_once_in_postgres(graded: Graded, assignment: str) -> None:
    from course.grader._batch import open_gradebook

    submitted = sorted(p.parent.name for p in
                       (graded.cluster / "submitted").glob(f"*/{assignment}"))
    with open_gradebook(graded.db_url) as gb:
        subs = gb.find_assignment(assignment).submissions
        students = sorted(s.student.id for s in subs)
        assert students == submitted  # nothing lost, nothing doubled
        for sub in subs:
            for nb in sub.notebooks:
                cells = [g.name for g in nb.grades]
                assert len(cells) == len(set(cells)), (sub.student.id, cells)
                assert len(cells) == len(nb.notebook.grade_cells)
                assert all(g.auto_score is not None for g in nb.grades if g.cell_type == "code"
                           and g.max_score > 0 and not g.manual_score), sub.student.id


@pytest.mark.parametrize("assignment", ["ps1", "ps4"])
def test_cluster_scores_and_outcomes_are_those_of_a_local_run(graded: Graded,
                                                              assignment: str) -> None:
    cluster = _scores(graded.cluster, assignment, graded.db_url)
    assert cluster == {s: _expected(assignment, s) for s in cluster}
    outcomes = _outcomes(graded.cluster, assignment)
    assert {s: o for s, o in outcomes.items() if o != "not submitted"} == {
        s: "kernel died" if s == "kills_kernel" else "graded" for s in cluster}
    # The batch is not trivially equal: full marks, losses and a dead kernel are all in it.
    totals = {s: sum(v.values()) for s, v in cluster.items()}
    assert len(set(totals.values())) >= (3 if assignment == "ps1" else 2), totals


def test_the_sqlite_gradebook_was_not_used_by_the_cluster_run(graded: Graded) -> None:
    """The cluster run wrote PostgreSQL only: the course folder's SQLite gradebook holds the
    assignments (Course.create registered them) but no submission."""
    from course.grader._batch import open_gradebook

    with open_gradebook(f"sqlite:///{graded.cluster / 'gradebook.db'}") as gb:
        for a in ("ps1", "ps4"):
            assert gb.find_assignment(a).submissions == []
    assert re.search(r"Grades exported to .*grades\.csv", graded.logs["cluster ps4"])
    # nbgrader's export: a row per student and assignment of the gradebook, from PostgreSQL.
    rows = (graded.cluster / "grades.csv").read_text().splitlines()
    students = {p.name for p in (graded.cluster / "submitted").iterdir()}
    assert len(rows) == 1 + 2 * len(students), rows

