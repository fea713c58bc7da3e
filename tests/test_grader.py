"""The grading sandbox's parts, each shown working on its own: cgroup limits, the bubblewrap
box, the entry point, outcome records and the pre-check (the whole pipeline is in
tests/test_sandbox_grading.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course.grader import (
    Cgroup,
    NotebookRun,
    Outcome,
    SandboxLimits,
    bwrap_argv,
    cgroup_support,
    classify,
    read_runs,
    sandbox_problem,
)
from course.grader._batch import precheck
from course.grader._sandbox import entry_argv


@pytest.fixture(scope="module", autouse=True)
def _needs_sandbox() -> None:
    if sandbox_problem() is not None:
        pytest.fail(f"the grading sandbox cannot run on this machine: {sandbox_problem()}")


def _in_cgroup(group: Cgroup, code: str, limits: SandboxLimits | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` inside ``group`` via the sandbox entry point (no box)."""
    argv = entry_argv([sys.executable, "-c", code], group, limits or SandboxLimits())
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_limits_reject_nonsense_naming_the_field() -> None:
    with pytest.raises(ValueError, match="memory_mb"):
        SandboxLimits(memory_mb=0)
    with pytest.raises(ValueError, match="processes"):
        SandboxLimits(processes="8")  # type: ignore[arg-type]


def test_cgroup_support_here() -> None:
    assert cgroup_support() is None


def test_pids_limit_binds_root() -> None:
    group = Cgroup.create("test-pids", 256 << 20, 8)
    try:
        code = ("import os, time\nok = bad = 0\nfor _ in range(30):\n    try:\n"
                "        pid = os.fork()\n    except OSError:\n        bad += 1\n"
                "        continue\n    if pid == 0:\n        time.sleep(2)\n        os._exit(0)\n"
                "    ok += 1\nprint(os.getuid(), ok, bad)\n")
        proc = _in_cgroup(group, code)
        uid, ok, bad = map(int, proc.stdout.split())
        assert uid == 0 and ok <= 7 and bad >= 23, proc
        assert group.events().pids_max >= 1
    finally:
        group.destroy()
    assert group.dirs == {}


def test_memory_limit_kills_and_is_recorded() -> None:
    group = Cgroup.create("test-mem", 96 << 20, 16)
    try:
        proc = _in_cgroup(group, "x = []\nwhile True:\n    x.append(b'x' * (8 << 20))\n")
        assert proc.returncode == -9, proc
        assert group.events().oom_kills >= 1
    finally:
        group.destroy()


def test_destroy_kills_what_is_left() -> None:
    group = Cgroup.create("test-kill", 256 << 20, 16)
    proc = subprocess.Popen(entry_argv([sys.executable, "-c", "import time; time.sleep(600)"],
                                       group, SandboxLimits()))
    try:
        for _ in range(200):
            if group.pids():
                break
            subprocess.run(["sleep", "0.02"])
        assert group.pids()
        group.destroy()
        assert proc.wait(timeout=10) == -9
    finally:
        proc.kill()
        group.destroy()


def test_rlimits_bound_file_size_and_cpu() -> None:
    group = Cgroup.create("test-rlimit", 256 << 20, 16)
    try:
        code = ("import resource\nprint(resource.getrlimit(resource.RLIMIT_FSIZE)[0], "
                "resource.getrlimit(resource.RLIMIT_CPU)[0], "
                "resource.getrlimit(resource.RLIMIT_CORE)[0])")
        proc = _in_cgroup(group, code, SandboxLimits(file_mb=3, cpu_seconds=7))
        assert proc.stdout.split() == [str(3 << 20), "7", "0"], proc
    finally:
        group.destroy()


def _box(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    run, work = tmp_path / "run", tmp_path / "work"
    run.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    (work / "answer.txt").write_text("42")
    (tmp_path / "secret.txt").write_text("hidden")
    argv = bwrap_argv([sys.executable, "-I", "-c", code], run_dir=run, workdir=work,
                      assignment="ps9", env={"PATH": "/usr/bin", "HOME": "/home/student"},
                      limits=SandboxLimits(tmp_mb=4))
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_box_sees_only_its_own_world(tmp_path: Path) -> None:
    code = """
import json, os, socket
out = {"cwd": os.getcwd(), "files": sorted(os.listdir(".")), "pid": os.getpid(),
       "secret": os.path.exists(SECRET), "uid": os.getuid(),
       "net": [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]],
       "procs": sorted(p for p in os.listdir("/proc") if p.isdigit())}
for path in ("/etc/shadow", "/newdir", "/usr/x"):
    try:
        open(path, "w" if path != "/etc/shadow" else "r")
        out[path] = "opened"
    except OSError as e:
        out[path] = type(e).__name__
open("answer.txt", "w").write("changed")
try:
    open("/tmp/big", "wb").write(b"x" * (8 << 20))
    out["tmpfs"] = "unbounded"
except OSError as e:
    out["tmpfs"] = e.errno
print(json.dumps(out))
""".replace("SECRET", repr(str(tmp_path / "secret.txt")))
    proc = _box(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cwd"] == "/home/student/ps9" and out["files"] == ["answer.txt"]
    assert out["pid"] == 2 and out["procs"] == ["1", "2"]
    assert out["secret"] is False
    assert out["net"] == ["lo"]
    assert out["/etc/shadow"] == "FileNotFoundError"
    assert out["/newdir"] == "OSError" or out["/newdir"] == "PermissionError"
    assert out["/usr/x"] in ("OSError", "PermissionError")
    assert out["tmpfs"] == 28  # ENOSPC: the 4 MiB tmpfs is full
    assert (tmp_path / "work" / "answer.txt").read_text() == "42"  # scratch copy only


def test_box_has_no_capabilities(tmp_path: Path) -> None:
    code = "print(open('/proc/self/status').read())"
    proc = _box(tmp_path, code)
    caps = {ln.split(":")[0]: ln.split()[1] for ln in proc.stdout.splitlines()
            if ln.startswith("Cap")}
    assert caps["CapEff"] == "0000000000000000" and caps["CapBnd"] == "0000000000000000"


def _run(student: str, outcome: Outcome, nb: str = "ps9", **kw: object) -> NotebookRun:
    return NotebookRun(student, "ps9", nb, outcome, **kw)  # type: ignore[arg-type]


def test_records_round_trip_and_the_worst_notebook_wins(tmp_path: Path) -> None:
    runs = tmp_path / ".grading" / "runs"
    _run("ann", Outcome.GRADED, "part1").write_to(runs)
    _run("ann", Outcome.TIMED_OUT, "part2", detail="timed out: cell 4",
         timed_out=("cell 4",)).write_to(runs)
    got = read_runs(tmp_path, "ps9", "ann")
    assert got["part2"].timed_out == ("cell 4",) and got["part2"].outcome is Outcome.TIMED_OUT
    decided = classify("ann", ["part1", "part2"], got)
    assert decided.outcome is Outcome.TIMED_OUT and "part2: timed out" in decided.detail
    assert decided.sandboxed


def test_a_notebook_without_record_is_a_grader_error() -> None:
    decided = classify("bob", ["part1", "part2"], {"part1": _run("bob", Outcome.GRADED)})
    assert decided.outcome is Outcome.GRADER_ERROR and "part2" in decided.detail


def test_severity_orders_every_outcome() -> None:
    order = list(Outcome)
    assert order[0] is Outcome.NOT_SUBMITTED and order[-1] is Outcome.GRADED
    assert Outcome.MEMORY_LIMIT.severity < Outcome.TIMED_OUT.severity
    assert {o for o in Outcome if o.scored} >= {Outcome.GRADED, Outcome.KERNEL_DIED}
    assert not Outcome.REJECTED.scored


def test_precheck_finds_unsafe_and_broken_submissions(tmp_path: Path) -> None:
    good = nbformat.v4.new_notebook()
    for student in ("ok", "linked", "broken", "partial"):
        folder = tmp_path / "submitted" / student / "ps9"
        folder.mkdir(parents=True)
        nbformat.write(good, folder / "part1.ipynb")
        if student != "partial":
            nbformat.write(good, folder / "part2.ipynb")
    (tmp_path / "submitted" / "linked" / "ps9" / "data").symlink_to("/etc")
    (tmp_path / "submitted" / "broken" / "ps9" / "part2.ipynb").write_text("{")
    (tmp_path / "submitted" / "other").mkdir()  # no ps9 folder: not a submission
    students, problems = precheck(tmp_path, "ps9", ["part1", "part2"])
    assert students == ["broken", "linked", "ok", "partial"]
    assert problems["linked"][0] is Outcome.REJECTED and "data" in problems["linked"][1]
    assert problems["broken"][0] is Outcome.UNREADABLE and "part2" in problems["broken"][1]
    assert problems["partial"] == (Outcome.NOTEBOOK_MISSING, "missing: part2.ipynb")
    assert "ok" not in problems


def test_a_manual_score_left_over_a_changed_automatic_one_is_stale() -> None:
    from course.grader._batch import _stale

    key, other = ("ann", "ps9", "q1"), ("bob", "ps9", "q1")
    before = {key: (2.0, 0.0), other: (1.0, 1.0)}
    after = {key: (2.0, 3.0), other: (1.0, 1.0)}  # ann's code now earns 3 automatically
    assert _stale(before, after) == {key: (2.0, 0.0, 3.0)}
    assert _stale(before, {key: (None, 3.0)}) == {}  # manual score reset: nothing stale


def test_a_student_left_without_record_is_retried_alone_then_a_grader_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch "crashes" after ann (no record for bob or cat); bob's retry alone works,
    cat's does not: ann and bob are graded, cat ends as a grader error, nobody is lost."""
    from course.grader import _batch

    monkeypatch.setattr(_batch, "in_gradebook", lambda db, a: True)
    monkeypatch.setattr(_batch, "_manual_scores", lambda db, a, s: {})
    monkeypatch.setattr(_batch, "_not_submitted", lambda db, a, s, o: {})
    (tmp_path / "release" / "ps9").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "release" / "ps9" / "part1.ipynb")
    for s in ("ann", "bob", "cat"):
        (tmp_path / "submitted" / s / "ps9").mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(),
                       tmp_path / "submitted" / s / "ps9" / "part1.ipynb")
    calls: list[set[str]] = []

    def nbgrader(*args: str) -> tuple[int, str]:
        excluded = {x for a in args if a.startswith("--CourseDirectory.student_id_exclude=")
                    for x in a.split("=", 1)[1].split(",") if x}
        chunk = {"ann", "bob", "cat"} - excluded
        calls.append(chunk)
        runs = tmp_path / ".grading" / "runs"
        if len(calls) == 1:  # the batch: dies after the first student
            NotebookRun("ann", "ps9", "part1", Outcome.GRADED).write_to(runs)
            return 1, "killed"
        if chunk == {"bob"}:
            NotebookRun("bob", "ps9", "part1", Outcome.GRADED).write_to(runs)
        return 1 if chunk == {"cat"} else 0, ""

    result = _batch.grade_batch(tmp_path, "ps9", nbgrader, db_url="sqlite://", jobs=1,
                                pool="processes")
    assert calls == [{"ann", "bob", "cat"}, {"bob"}, {"cat"}]
    assert {s: o.outcome for s, o in result.outcomes.items()} == {
        "ann": Outcome.GRADED, "bob": Outcome.GRADED, "cat": Outcome.GRADER_ERROR}
    assert "retry of bob alone" in result.log


def test_read_only_roots_under_tmp_stay_visible(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout under /tmp (CI clones there): its venv and package are bound over the box's
    own /tmp, not hidden by it, and stay read-only."""
    from course.grader import _sandbox

    ro = tmp_path / "checkout"
    ro.mkdir()
    (ro / "marker.txt").write_text("visible")
    real = _sandbox._readonly_roots()
    monkeypatch.setattr(_sandbox, "_readonly_roots", lambda: [*real, ro])
    code = (f"print(open({str(ro / 'marker.txt')!r}).read())\n"
            f"try:\n    open({str(ro / 'x')!r}, 'w')\n    print('writable')\n"
            f"except OSError:\n    print('read-only')\n")
    proc = _box(tmp_path, code)
    assert proc.stdout.split() == ["visible", "read-only"], proc.stderr
