"""Where ``course grade`` runs autograde: a dask.distributed cluster of grading workers.

Each task grades **one** submission with nbgrader's own machinery
(``NbGraderAPI.autograde``: the same Autograde converter, preprocessors and gradebook as the
``nbgrader autograde`` command), in a long-lived worker process that loaded nbgrader and the
course's configuration once. So there is no per-student start-up (an ``nbgrader`` process
costs about 2 s before it grades anything), and the scheduler hands the next submission to
whichever worker is free: a submission that loops until its timeout no longer holds back a
fixed chunk of others.

* default: a ``LocalCluster`` on this machine, ``jobs`` worker processes of one thread each,
  forked from a fork server that imported distributed, nbgrader and this module once (the
  workers need not import them again, and they stop at once when the batch is done: with
  dask's default ``spawn`` each worker costs a fresh interpreter and a slow shutdown);
* ``scheduler="tcp://host:8786"``: an existing cluster. Its workers need the course package,
  the sandbox and the course folder at the same path (shared storage): the task names the
  course root, the submissions and results stay on that storage, and only (student, outcome
  flag, log) travel back.

The SQLite gradebook has one writer at a time: every worker opens it with a 10-minute busy
timeout, and nbgrader's transactions are short. A task that raises (a worker lost mid-task)
is retried by dask on another worker; ``course grade`` then re-grades alone any submission
still without a run record.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["GradingPool", "PoolStart", "autograde_one"]

#: What the fork server imports before it forks the workers (a task needs all of it).
PRELOAD = ("nbgrader.apps", "nbgrader.api", "course.grader._pool", "course.nbplugins")


def _fork_server() -> None:
    """Make dask's worker processes come from a ``forkserver`` that preloads :data:`PRELOAD`
    as well as what dask preloads itself. A fork server is single-threaded, so forking it is
    safe (unlike ``fork`` from this process, whose threads may hold locks)."""
    import multiprocessing.forkserver

    import dask
    from distributed.utils import get_mp_context

    # For this process: a worker the nanny restarts comes from the same fork server.
    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    ctx = get_mp_context()  # sets dask's own preload list (once per process)
    preload = list(getattr(multiprocessing.forkserver._forkserver, "_preload_modules", ())
                   or ["distributed"])
    ctx.set_forkserver_preload([*preload, *(m for m in PRELOAD if m not in preload)])

_APIS: dict[tuple[str, str], Any] = {}


def _api(root: str, overrides: Mapping[str, Mapping[str, Any]]) -> Any:
    """This worker's NbGraderAPI for ``root`` (created once per worker and configuration)."""
    import json

    key = (root, json.dumps(overrides, sort_keys=True, default=str))
    if key not in _APIS:
        from nbgrader.apps import NbGraderAPI
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
        cfg.merge(Config({k: dict(v) for k, v in overrides.items()}))
        _APIS[key] = NbGraderAPI(config=cfg)
    return _APIS[key]


def autograde_one(root: str, env: Mapping[str, str], overrides: Mapping[str, Mapping[str, Any]],
                  assignment: str, student: str) -> tuple[str, bool, str]:
    """One task: autograde ``student``'s ``assignment`` in this worker; (student, ok, log)."""
    os.environ.update(env)  # PATH with the venv's bin (nbgrader runs alembic), JAX_* ...
    os.chdir(root)
    result = _api(root, overrides).autograde(assignment, student, force=True, create=True)
    log = str(result.get("log", "")) + str(result.get("error", "") or "")
    return student, bool(result.get("success")), log


class GradingPool:
    """A dask client on a ``LocalCluster`` of ``jobs`` workers (or on ``scheduler``)."""

    def __init__(self, jobs: int, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self.jobs, self.scheduler = jobs, scheduler
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            _fork_server()
            # Loopback only, no dashboard. The scheduler's HTTP server (health, metrics)
            # still starts: on a free loopback port, not dask's fixed :8787, so two batches
            # (or another dask) at once neither clash nor warn. A sandboxed kernel has no
            # network either way.
            self._cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1,
                                         processes=True, memory_limit=0,
                                         host="127.0.0.1",
                                         scheduler_kwargs={"dashboard": False,
                                                           "dashboard_address": "127.0.0.1:0"},
                                         silence_logs=logging.ERROR)
            self.client = Client(self._cluster)

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster({self.jobs} workers)"
        return f"GradingPool({where})"

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def grade(self, root: Path, env: Mapping[str, str],
              overrides: Mapping[str, Mapping[str, Any]], assignment: str,
              students: Iterable[str],
              done: Callable[[str, bool, str], None] = lambda s, ok, log: None) -> None:
        """Grade ``students`` (one task each, any order); ``done`` is called as each ends."""
        from distributed import as_completed

        futures = {self.client.submit(autograde_one, str(root), dict(env), overrides,
                                      assignment, s, pure=False, retries=1): s
                   for s in students}
        for future in as_completed(list(futures)):
            try:
                student, ok, log = future.result()
            except Exception as exc:  # the task failed twice: course grade's retry decides
                student, ok, log = futures[future], False, f"{exc!r}\n"
            done(student, ok, log)


class PoolStart:
    """A :class:`GradingPool` starting in a background thread, so that its start (the fork
    server importing nbgrader, the scheduler, the workers: seconds) overlaps with what
    ``course grade`` does before it grades (registering the assignment, the pre-check, the
    JAX cache warm-up). :meth:`get` waits for it (and re-raises a failed start);
    :meth:`close` shuts it down, started or not. Whoever makes one closes it."""

    def __init__(self, jobs: int, scheduler: str | None = None) -> None:
        self.jobs, self.scheduler = jobs, scheduler
        self._pool: GradingPool | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="course-grading-pool",
                                        daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self._pool = GradingPool(self.jobs, self.scheduler)
        except BaseException as exc:  # handed to whoever calls get()
            self._error = exc

    def __repr__(self) -> str:
        state = ("starting" if self._thread.is_alive() else
                 "failed" if self._error is not None else "ready")
        return f"PoolStart({self.jobs} workers, {self.scheduler or 'LocalCluster'}, {state})"

    def get(self) -> GradingPool:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._pool is not None
        return self._pool

    def close(self) -> None:
        self._thread.join()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
