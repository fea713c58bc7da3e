"""Memory and process limits for one sandboxed kernel, enforced by the kernel's cgroups.

``RLIMIT_NPROC`` does not bind root (and graders often run as root in a container), so the
number of processes and threads is limited by the ``pids`` controller and memory by the
``memory`` controller. Two layouts are supported:

* **cgroup v2** (unified): one directory under the grader's own cgroup with ``memory.max``,
  ``memory.swap.max`` and ``pids.max``; usable when both controllers are delegated to it
  (listed in the parent's ``cgroup.subtree_control`` or enabled there by us).
* **cgroup v1**: one directory per controller hierarchy (``memory/``, ``pids/``), each a child of
  the grader's own cgroup in that hierarchy.

States: :meth:`Cgroup.create` makes the directories and writes the limits; the sandbox entry
point writes its own pid to every :attr:`Cgroup.procs_files` *before* it starts the kernel (so
every descendant is counted); :meth:`events` reads how often a limit was hit;
:meth:`destroy` kills what is left and removes the directories.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cgroup", "CgroupError", "CgroupEvents", "cgroup_support"]

ROOT = Path("/sys/fs/cgroup")
PREFIX = "course-grading"


class CgroupError(RuntimeError):
    """The machine cannot limit a kernel's memory and processes (the message says why)."""


@dataclass(frozen=True)
class CgroupEvents:
    """How often the kernel hit a limit: ``oom_kills`` (memory) and ``pids_max`` (process
    count, i.e. refused forks)."""

    oom_kills: int = 0
    pids_max: int = 0


def _own_path(controller: str) -> str:
    """The grader's cgroup path for ``controller`` (v1) or the unified one ('' controller)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller == "" and ctrls == "" and line.startswith("0::")) or \
                controller in ctrls.split(","):
            return path.lstrip("/")
    raise CgroupError(f"/proc/self/cgroup lists no {controller or 'unified'} hierarchy")


def _base(mount: Path, controller: str) -> Path:
    own = mount / _own_path(controller)
    return own if own.is_dir() else mount  # a cgroup namespace shows its root at the mount


def _v2_base() -> Path | None:
    for mount in (ROOT, ROOT / "unified"):
        if not (mount / "cgroup.controllers").is_file():
            continue
        base = _base(mount, "")
        ctrls = set((base / "cgroup.controllers").read_text().split())
        if {"memory", "pids"} <= ctrls:
            return base
    return None


def _v1_bases() -> dict[str, Path] | None:
    bases = {}
    for ctrl in ("memory", "pids"):
        mount = ROOT / ctrl
        if not (mount / "cgroup.procs").is_file():
            return None
        bases[ctrl] = _base(mount, ctrl)
    return bases


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise CgroupError(f"cannot write {value!r} to {path}: {e}") from e


def _count(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _enable_v2(base: Path) -> None:
    """Enable memory and pids for ``base``'s children. cgroup v2 forbids that while ``base``
    itself holds processes (a delegated ``systemd-run --scope`` holds the grader), so those
    move to a leaf ``base/course-grader`` first. (Only the root case is tested here.)"""
    ctl = base / "cgroup.subtree_control"
    if {"memory", "pids"} <= set(ctl.read_text().split()):
        return
    try:
        ctl.write_text("+memory +pids")
        return
    except OSError:
        pass
    leaf = base / "course-grader"
    leaf.mkdir(exist_ok=True)
    for pid in (base / "cgroup.procs").read_text().split():
        with contextlib.suppress(OSError):
            (leaf / "cgroup.procs").write_text(pid)
    _write(ctl, "+memory +pids")


@dataclass
class Cgroup:
    """The cgroup(s) of one sandboxed kernel: ``dirs`` maps controller -> directory
    (``{"": dir}`` on cgroup v2)."""

    name: str
    dirs: dict[str, Path] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Cgroup({self.name!r}, {', '.join(str(d) for d in self.dirs.values())})"

    @classmethod
    def create(cls, name: str, memory_bytes: int, pids: int) -> Cgroup:
        """Make the cgroup(s) for one kernel with these limits, or raise :class:`CgroupError`."""
        if memory_bytes <= 0 or pids <= 0:
            raise ValueError(f"Non-positive cgroup limits memory={memory_bytes} pids={pids}")
        group = cls(name)
        v2 = _v2_base()
        try:
            if v2 is not None:
                parent = v2 / PREFIX
                if not parent.is_dir():
                    _enable_v2(v2)
                    parent.mkdir(exist_ok=True)
                    _write(parent / "cgroup.subtree_control", "+memory +pids")
                d = parent / name
                d.mkdir()
                group.dirs[""] = d
                _write(d / "memory.max", str(memory_bytes))
                if (d / "memory.swap.max").exists():
                    _write(d / "memory.swap.max", "0")
                _write(d / "pids.max", str(pids))
                return group
            v1 = _v1_bases()
            if v1 is None:
                raise CgroupError("no cgroup v2 with memory+pids and no cgroup v1 memory and "
                                  "pids hierarchies under /sys/fs/cgroup")
            for ctrl, base in v1.items():
                d = base / PREFIX / name
                d.mkdir(parents=True)
                group.dirs[ctrl] = d
            mem = group.dirs["memory"]
            _write(mem / "memory.limit_in_bytes", str(memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(group.dirs["pids"] / "pids.max", str(pids))
            return group
        except OSError as e:
            group.destroy()
            raise CgroupError(f"cannot create cgroup {name!r}: {e}") from e
        except CgroupError:
            group.destroy()
            raise

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join every limit."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for f in self.procs_files:
            with contextlib.suppress(OSError):
                out |= {int(p) for p in Path(f).read_text().split()}
        return out

    def events(self) -> CgroupEvents:
        if "" in self.dirs:
            d = self.dirs[""]
            return CgroupEvents(_count(d / "memory.events", "oom_kill"),
                                _count(d / "pids.events", "max"))
        mem, pids = self.dirs.get("memory"), self.dirs.get("pids")
        return CgroupEvents(_count(mem / "memory.oom_control", "oom_kill") if mem else 0,
                            _count(pids / "pids.events", "max") if pids else 0)

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup until none is left (or ``timeout`` passes)."""
        kill = self.dirs.get("", Path("/nonexistent")) / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
        deadline = time.monotonic() + timeout
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def destroy(self) -> None:
        """Kill every process left and remove the directories (idempotent)."""
        self.kill_all()
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.dirs = {}


def cgroup_support() -> str | None:
    """None when a limited cgroup can be made and joined here, else why not."""
    try:
        group = Cgroup.create(f"probe-{os.getpid()}", 64 << 20, 8)
    except (CgroupError, OSError) as e:
        return str(e)
    try:
        events = group.events()
        if events != CgroupEvents():
            return f"a fresh cgroup reports events {events}"
    finally:
        group.destroy()
    return None
