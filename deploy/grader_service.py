"""Start the course's formgrader service as the grader account, in cgroups it may manage.

``course grade`` refuses to grade where it cannot sandbox a student's kernel, and the sandbox
limits each kernel's memory and processes with cgroups (course.grader._cgroups). Root can make
those anywhere; the grader account (the formgrader service's Unix user, never root) can only
in a cgroup *delegated* to it. JupyterHub starts this script as root (the service has no
``user`` key) and it:

1. makes the cgroup ``<hub's cgroup>/course-<service>`` (cgroup v2: one, with the ``memory``
   and ``pids`` controllers enabled above it; cgroup v1: one in the ``memory`` and one in the
   ``pids`` hierarchy) and gives it to the grader account (``chown``, as systemd's
   ``Delegate=yes`` does);
2. moves itself into it, so the service and every kernel and grading process it starts are
   below it;
3. drops to the grader account (its groups, ``HOME``, ``USER``), goes to the course root and
   ``exec``\\ s the command (``jupyterhub-singleuser ...``).

Usage (from ``deploy/jupyterhub_config.py``)::

    grader_service.py GRADER COURSE_ROOT CGROUP_NAME -- jupyterhub-singleuser ...
    grader_service.py --remove CGROUP_NAME      # after the service stopped: kill, rmdir

On a systemd host the same can be had from a unit with ``User=``, ``Delegate=yes``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from course.grader import _cgroups  # the grader's own cgroup layout


def _dirs(name: str) -> list[Path]:
    """Where cgroup ``name`` lives below this process's cgroup(s): one dir on cgroup v2,
    memory + pids dirs on v1 (the same layout course.grader._cgroups creates kernels in)."""
    v2 = _cgroups._v2_base()
    if v2 is not None:
        return [v2 / name]
    v1 = _cgroups._v1_bases()
    if v1 is None:
        raise _cgroups.CgroupError("no cgroup v2 with memory+pids and no cgroup v1 memory "
                                   "and pids hierarchies under /sys/fs/cgroup")
    return [base / name for base in v1.values()]


#: The files of a delegated cgroup its owner writes (cgroup-v2.rst, "Delegation").
DELEGATED = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks")


def delegate(name: str, uid: int, gid: int) -> list[Path]:
    """Make cgroup ``name``, owned by ``uid``:``gid``, and move this process into it."""
    v2 = _cgroups._v2_base()
    if v2 is not None:
        _cgroups._enable_v2(v2)  # children of v2 get memory + pids
    dirs = _dirs(name)
    for d in dirs:
        d.mkdir(exist_ok=True)
        os.chown(d, uid, gid)
        for f in DELEGATED:
            if (d / f).exists():
                os.chown(d / f, uid, gid)
    for d in dirs:
        (d / "cgroup.procs").write_text(str(os.getpid()))
    return dirs


def _pids(d: Path) -> set[int]:
    out: set[int] = set()
    for procs in d.rglob("cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            out |= {int(p) for p in procs.read_text().split()}
    return out


def remove(name: str, timeout: float = 10.0) -> None:
    """Kill whatever still runs in cgroup ``name`` and remove it (children first)."""
    with contextlib.suppress(_cgroups.CgroupError):
        for d in _dirs(name):
            if not d.is_dir():
                continue
            deadline = time.monotonic() + timeout
            while (pids := _pids(d)) and time.monotonic() < deadline:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()),
                              key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    sub.rmdir()
            with contextlib.suppress(OSError):
                d.rmdir()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--remove"] and len(argv) == 2:
        remove(argv[1])
        return 0
    if "--" not in argv or argv.index("--") != 3 or len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    user, root, name, cmd = argv[0], argv[1], argv[2], argv[4:]
    pw = pwd.getpwnam(user)
    if pw.pw_uid == 0:
        print("grader_service.py: the grader account must not be root", file=sys.stderr)
        return 2
    if os.geteuid() == 0:
        delegate(name, pw.pw_uid, pw.pw_gid)
        os.initgroups(pw.pw_name, pw.pw_gid)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    elif os.geteuid() != pw.pw_uid:
        print(f"grader_service.py: run as root or as {user}", file=sys.stderr)
        return 2
    os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name,
                      SHELL=pw.pw_shell or "/bin/sh")
    os.chdir(root)
    os.execvp(cmd[0], cmd)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
