"""``SandboxKernelManager``: jupyter_client's kernel manager, with the kernel in the sandbox.

nbclient (hence nbgrader's autograde) asks for a kernel with ``cwd`` = the student's autograded
folder. This manager instead:

1. makes a fresh box directory ``/tmp/course-kernel-XXXX/`` holding ``run/`` (the connection
   file and the ipc sockets: jupyter_client's ``ipc`` transport, so the kernel needs no network)
   and ``kernel.log`` (the kernel's stderr, grader-side);
2. makes the kernel's cgroup(s) with the configured memory and process limits;
3. launches ``python -I -S -c ENTRY`` (joins the cgroups, sets rlimits, execs bubblewrap), which
   starts ipykernel in the box with ``--transport=ipc``, no ``JPY_PARENT_PID`` (its parent is
   the box's init, pid 1) and an allow-listed environment;
4. interrupts by message (``interrupt_mode = "message"``: a signal would reach bubblewrap,
   not the kernel);
5. on shutdown, kills whatever is left in the cgroup, records the limit events
   (:meth:`sandbox_events`) and removes the cgroup and the box directory.

Limits are traits, set in ``nbgrader_config.py`` (``c.SandboxKernelManager.memory_mb = ...``).
So is ``withhold``: library objects (``"module:qualname"``) absent from the box, whose
``course`` package is then a copy without their code (:mod:`._withhold`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Int, List, Unicode

from ._cgroups import Cgroup, CgroupEvents
from ._sandbox import HOME, SandboxLimits, bwrap_argv, entry_argv, make_cgroup
from ._withhold import default_cache_dir, withheld_package

__all__ = ["PASS_ENV", "SandboxKernelManager"]

#: Variables of the grader's environment a kernel sees (everything else is dropped).
PASS_ENV = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MPLBACKEND",
            "XLA_FLAGS", "JUPYTER_PLATFORM_DIRS")
JAX_CACHE = "/opt/jax-cache"


class SandboxKernelManager(AsyncKernelManager):
    """An ipykernel in a bubblewrap box with cgroup limits (see the module docstring)."""

    memory_mb = Int(2048, help="Memory limit of the kernel and its children (MiB)").tag(
        config=True)
    processes = Int(256, help="Limit on processes + threads of the kernel").tag(config=True)
    cpu_seconds = Int(1800, help="CPU seconds per process (RLIMIT_CPU)").tag(config=True)
    file_mb = Int(256, help="Largest file a kernel may write (MiB)").tag(config=True)
    tmp_mb = Int(512, help="Size of the box's /tmp and $HOME tmpfs (MiB)").tag(config=True)
    jax_cache = Unicode("", help="Host directory with a JAX compilation cache the kernel may "
                        "read (its writes stay in the box); '' for none").tag(config=True)
    jax_cache_writable = Bool(False, help="Bind the JAX cache read-write: only for trusted "
                              "code (course grade's warm-up with the instructor's notebook)"
                              ).tag(config=True)
    pass_env = List(Unicode(), default_value=list(PASS_ENV),
                    help="Environment variables passed into the box (also every JAX_*)").tag(
                        config=True)

    withhold = List(Unicode(), default_value=[],
                    help="Library objects ('module:qualname', e.g. 'course._clocks:"
                    "LamportClock') absent from the box: it gets, at the course package's "
                    "path, a copy in which they only raise (course.grader.withheld_package)"
                    ).tag(config=True)
    withhold_cache = Unicode("", help="Host folder caching the withheld copies; '' for "
                             "<$XDG_CACHE_HOME or ~/.cache>/course-withheld (the "
                             "grader's own, never a shared temp dir)").tag(config=True)

    _box: Path | None = None
    _cgroup: Cgroup | None = None
    _events: CgroupEvents | None = None
    _log_file: Any = None
    _log_tail: str = ""
    #: Name of the last box (its directory in the temp dir and its cgroup), for the records.
    box_name: str = ""

    def __repr__(self) -> str:
        return f"SandboxKernelManager(box={self._box}, cgroup={self._cgroup})"

    @property
    def limits(self) -> SandboxLimits:
        return SandboxLimits(memory_mb=self.memory_mb, processes=self.processes,
                             cpu_seconds=self.cpu_seconds, file_mb=self.file_mb,
                             tmp_mb=self.tmp_mb)

    def box_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k in self.pass_env or k.startswith("JAX_")}
        env.update({"HOME": HOME, "USER": "student", "TMPDIR": "/tmp",
                    "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                    "VIRTUAL_ENV": sys.prefix, "MPLCONFIGDIR": f"{HOME}/.matplotlib"})
        env.setdefault("LANG", "C.UTF-8")
        if "JAX_COMPILATION_CACHE_DIR" in env:
            env["JAX_COMPILATION_CACHE_DIR"] = JAX_CACHE if self._jax_cache() else "/tmp/jax"
        return env

    def _jax_cache(self) -> Path | None:
        path = self.jax_cache or os.environ.get("JAX_COMPILATION_CACHE_DIR", "")
        return Path(path) if path and Path(path).is_dir() else None

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        limits = self.limits
        package = self.withheld_package()  # first: a bad name fails before anything is made
        self._box = Path(tempfile.mkdtemp(prefix="course-kernel-")).resolve()
        self.box_name = self._box.name
        run = self._box / "run"
        run.mkdir()
        self._events = None
        self._cgroup = make_cgroup(self._box.name, limits)
        self.transport = "ipc"
        self.ip = str(run / "k")
        self.connection_file = str(run / "kernel.json")
        assert self.kernel_spec is not None
        self.kernel_spec.interrupt_mode = "message"
        workdir = Path(kw.pop("cwd")) if kw.get("cwd") else None
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        extra: dict[str, Path] = {}
        rw: dict[str, Path] = {}
        cache = self._jax_cache()
        if cache is not None:
            (rw if self.jax_cache_writable else extra)[JAX_CACHE] = cache
        box_cmd = bwrap_argv([*cmd, "--transport=ipc"], run_dir=run, workdir=workdir,
                             assignment=workdir.name if workdir else "work",
                             env=self.box_env(), limits=limits, extra_ro=extra, extra_rw=rw,
                             package=package)
        self._log_file = (self._box / "kernel.log").open("wb")
        kw.update(cwd=str(self._box), env={"PATH": "/usr/bin:/bin"},
                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log_file)
        return entry_argv(box_cmd, self._cgroup, limits), kw

    def withheld_package(self) -> Path | None:
        """The copy of ``course`` the box gets for ``withhold`` (None: the real package)."""
        if not self.withhold:
            return None
        cache = Path(self.withhold_cache) if self.withhold_cache else default_cache_dir()
        return withheld_package(self.withhold, cache_dir=cache)

    def sandbox_events(self) -> CgroupEvents:
        """How often the kernel hit its memory and process limits (readable after shutdown)."""
        if self._cgroup is not None and self._cgroup.dirs:
            return self._cgroup.events()
        return self._events or CgroupEvents()

    def kernel_log(self, limit: int = 2000) -> str:
        """The tail of the kernel's stderr (grader-side; empty once cleaned up)."""
        if self._box is None:
            return self._log_tail[-limit:]
        try:
            data = (self._box / "kernel.log").read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def kill_sandbox(self) -> None:
        """SIGKILL every process of the box now (the kernel manager then sees a dead kernel)."""
        if self._cgroup is not None:
            self._cgroup.kill_all()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if self._cgroup is not None:
                self._events = self._cgroup.events()
                self._cgroup.destroy()
                self._cgroup = None
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._box is not None:
                self._log_tail = self.kernel_log()
                shutil.rmtree(self._box, ignore_errors=True)
                self._box = None

    # jupyter_client binds the public name to its own coroutine; nbclient calls it directly
    # after a kernel died, so it must be ours.
    cleanup_resources = _async_cleanup_resources
