"""Real servers for the cluster tests, started and always stopped by the test itself.

* :class:`Postgres`: a throw-away PostgreSQL cluster (Debian's ``postgresql`` package, which
  ``make install`` puts on the machine) in a temporary folder, on a free loopback port, owned
  by the ``postgres`` system user (``initdb`` refuses root), trust authentication on
  127.0.0.1 only. Its URL is what nbgrader's ``db_url`` takes.
* :class:`DaskCluster`: ``dask scheduler`` and ``dask worker`` processes (no nanny, so a
  killed worker stays dead), each in its own session so nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port free right now (every server the tests start takes one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str,
                  log: Callable[[], str], timeout: float = 90) -> None:
    """Poll ``ready()`` (an OSError counts as not yet) until it holds; raise with the
    server's log when ``proc`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not up after {timeout:.0f} s:\n{log()}")


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them versioned)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make install` installs Debian's "
                           "postgresql package (APT_PACKAGES in the Makefile)")
    return found[-1].parent


def _as_postgres(*cmd: str | Path) -> list[str]:
    args = [str(c) for c in cmd]
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class Postgres:
    """A PostgreSQL server for one test module; ``url(db)`` creates databases on demand. Its
    folder is a fresh one in /tmp (pytest's temporary folders are closed to other users, and
    the server runs as ``postgres``), removed on exit."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.bin = pg_bin()

    def __repr__(self) -> str:
        return f"Postgres(127.0.0.1:{self.port}, {self.data})"

    def _run(self, *cmd: str | Path, timeout: float = 60) -> str:
        done = subprocess.run(_as_postgres(*cmd), capture_output=True, text=True,
                              timeout=timeout, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}\n{self.log()}")
        return done.stdout

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace")[-4000:] if path.is_file() else ""

    def __enter__(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.folder / "postgres.log",
                  "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=50", "start")
        return self

    def url(self, db: str) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/<db>``, the database created if new."""
        if db not in self._run(self.bin / "psql", "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "-Atc", "select datname from pg_database"
                               ).split():
            self._run(self.bin / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "postgres", db)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except Exception:  # the server may never have started
            pid = self.data / "postmaster.pid"
            with contextlib.suppress(Exception):
                os.kill(int(pid.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


class DaskCluster:
    """``dask scheduler`` and ``n`` single-threaded ``dask worker`` processes on loopback."""

    def __init__(self, folder: Path, workers: int = 2, env: dict[str, str] | None = None):
        self.folder, self.n = folder, workers
        self.env = {**os.environ, **(env or {})}
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def __repr__(self) -> str:
        alive = sum(w.poll() is None for w in self.workers)
        return f"DaskCluster({self.address}, {alive}/{len(self.workers)} workers alive)"

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as log:  # the child keeps its own
            return subprocess.Popen([str(BIN / "dask"), *args], stdout=log,
                                    stderr=subprocess.STDOUT, env=self.env, cwd=self.folder,
                                    start_new_session=True)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.is_file() else ""

    def __enter__(self) -> DaskCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._start("scheduler", "scheduler", "--host", "127.0.0.1",
                                     "--port", str(self.port), "--dashboard-address",
                                     "127.0.0.1:0", "--no-dashboard")
        for i in range(self.n):
            self.workers.append(self._start(
                f"worker{i}", "worker", self.address, "--nthreads", "1", "--no-nanny",
                "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0",
                "--memory-limit", "0", "--name", f"w{i}"))
        self.wait_for_workers(self.n)
        return self

    def wait_for_workers(self, n: int, timeout: float = 120) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        with Client(self.address, timeout=timeout) as client:
            while len(client.scheduler_info()["workers"]) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self!r}: {n} workers not up after {timeout:.0f} s\n"
                                       + self.log("worker0"))
                time.sleep(0.2)

    def kill_worker(self, i: int) -> None:
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(timeout=30)

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for proc in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=30)
