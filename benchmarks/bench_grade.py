"""What the grading sandbox costs: the same batch graded with and without it.

A temporary course (tests/pipeline.py's harness) gets N copies of ps1's solution; ``course
grade ps1`` grades them once in the sandbox and once with ``--unsafe`` (alternating, ``--repeat``
times each, ``--force``: every run grades every submission; the median counts). Per
submission: wall seconds of the whole command divided by N (with ``--jobs`` = the cores).
Also timed: starting one sandboxed kernel vs a plain one (jupyter_client, 5 starts each), and
the sandboxed batch with ``--jobs 1`` (one nbgrader process, sequential) against the default.

Run: .venv/bin/python benchmarks/bench_grade.py [--students N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pipeline import Course, nbgrader_env


def grade(course: Course, unsafe: bool, jobs: int = 0) -> float:
    args = [sys.executable, "-m", "course.cli", "--root", str(course.root), "grade", "ps1",
            "--force", "--quiet", *(["--jobs", str(jobs)] if jobs else [])]
    start = time.perf_counter()
    proc = subprocess.run([*args, *(["--unsafe"] if unsafe else [])], cwd=course.root,
                          env=nbgrader_env(), capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"course grade failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return took


async def kernel_start(sandboxed: bool) -> float:
    from jupyter_client.manager import AsyncKernelManager

    from course.grader import SandboxKernelManager

    cls = SandboxKernelManager if sandboxed else AsyncKernelManager
    km = cls()
    start = time.perf_counter()
    await km.start_kernel(cwd=tempfile.gettempdir())
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    took = time.perf_counter() - start
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    starts = {s: [asyncio.run(kernel_start(s)) for _ in range(5)] for s in (False, True)}
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course = Course.create(Path(tmp), ["ps1"], timeout=60)
        for i in range(args.students):
            course.submit(f"student{i:03d}", "ps1", course.submission("ps1"))
        times: dict[bool, list[float]] = {False: [], True: []}
        serial: list[float] = []
        for _ in range(args.repeat):
            for unsafe in (True, False):
                times[not unsafe].append(grade(course, unsafe) / args.students)
            serial.append(grade(course, False, jobs=1) / args.students)
    print(f"# bench_grade: {args.students} ps1 submissions, {args.repeat} runs each, "
          f"{cpu_model()}, {platform.python_version()}")
    print(f"{'what':<34}{'plain':>10}{'sandbox':>10}{'overhead':>10}")
    print(f"{'  (parallel: --jobs = cores)':<34}")
    for label, plain, boxed in (
            ("kernel start (s, median of 5)", starts[False], starts[True]),
            ("course grade, s per submission", times[False], times[True])):
        p, b = statistics.median(plain), statistics.median(boxed)
        print(f"{label:<34}{p:>10.2f}{b:>10.2f}{(b - p) / p:>+10.1%}")
    one, many = statistics.median(serial), statistics.median(times[True])
    print(f"sandboxed, s per submission: --jobs 1 {one:.2f}, --jobs {os.cpu_count()} "
          f"{many:.2f}: {one / many:.2f}x faster in parallel")


if __name__ == "__main__":
    main()
