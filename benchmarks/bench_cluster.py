"""Grading on a dask cluster over loopback, into PostgreSQL: 1 worker against 2.

The batch of bench_parallel (N ps1 submissions: every ps1 zoo bug, blank ones and correct
ones) and a few ps4 submissions (correct and zoo bugs: JAX, tens of seconds each) are graded
by ``course --db-url postgresql://... grade A --scheduler tcp://127.0.0.1:P --force`` on a
``dask scheduler`` with 1 and then 2 ``dask worker`` processes (one thread each), all on
this machine (tests/servers.py starts and stops them, and PostgreSQL). Wall seconds per
submission; the last column is the estimate for 5,000 ps4 submissions on W workers of this
kind (per-submission time on 1 worker × 5,000 / W, plus the fixed cost of one batch).

Run: .venv/bin/python benchmarks/bench_cluster.py [--students N] [--ps4 M]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_parallel import submit_ps1
from machine import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pipeline import Course, nbgrader_env, zoo
from servers import DaskCluster, Postgres


def batch(root: Path, n: int, m: int) -> Course:
    course = Course.create(root, ["ps1", "ps4"], timeout=10)
    submit_ps1(course, n)
    bugs4 = sorted(zoo("ps4").items())
    for i in range(m):
        cells = {} if i % 2 == 0 else bugs4[i // 2 % len(bugs4)][1]
        course.submit(f"s{i:03d}", "ps4", course.submission("ps4", cells))
    return course


def grade(course: Course, assignment: str, db_url: str, scheduler: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(course.root),
                           "--db-url", db_url, "grade", assignment, "--scheduler", scheduler,
                           "--force", "--quiet"], cwd=course.root, env=nbgrader_env(),
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"course grade {assignment} failed:\n{done.stdout[-3000:]}"
                         f"{done.stderr[-3000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--ps4", type=int, default=6)
    args = ap.parse_args()
    rows: list[tuple[str, int, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, Postgres() as pg:
        course = batch(Path(tmp) / "course", args.students, args.ps4)
        for workers in (1, 2):
            url = pg.url(f"gradebook{workers}")
            with DaskCluster(Path(tmp) / f"dask{workers}", workers=workers,
                             env=nbgrader_env()) as cluster:  # type: ignore[arg-type]
                for a, n in (("ps1", args.students), ("ps4", args.ps4)):
                    rows.append((a, workers, n, grade(course, a, url, cluster.address)))
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print("| assignment | workers | submissions | wall s | s / submission | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    one = {a: w for a, k, _n, w in rows if k == 1}
    for a, k, n, wall in rows:
        print(f"| {a} | {k} | {n} | {wall:.1f} | {wall / n:.2f} | {one[a] / wall:.2f}× |")
    per4 = one["ps4"] / args.ps4
    print(f"\n5,000 ps4 submissions at {per4:.1f} s each (1 worker): "
          + ", ".join(f"{w} workers ≈ {5000 * per4 / w / 3600:.1f} h" for w in (1, 8, 32, 128)))


if __name__ == "__main__":
    main()
