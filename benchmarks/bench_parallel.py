"""Parallel grading against plain nbgrader and against the floor, on one batch of ps1.

A temporary course (tests/pipeline.py's harness) gets N ps1 submissions: correct ones, every
bug of tests/zoo/ps1 (partly wrong, a loop, a dead kernel...) and blank ones. Three runs:

* **nbgrader**: plain sequential ``nbgrader autograde ps1 --force`` with nbgrader 0.9.6's own
  preprocessors (no sandbox, no grading protocol): what a course gets out of the box;
* **course grade**: ``course grade ps1 --force --quiet --jobs J`` (sandboxed, the protocol);
* **floor**: nbclient executing the same autograded notebooks, one fresh kernel each, one
  after the other: the kernel work no grader can avoid.

Wall seconds and CPU seconds (the whole machine's busy time, /proc/stat) per submission. Targets
(the TA-tooling issue): ``course grade`` ≥ 1.8× faster than plain nbgrader on 2 cores, and
its CPU per submission ≤ 1.3× the floor's.

Run: .venv/bin/python benchmarks/bench_parallel.py [--students N] [--jobs J]
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

from machine import cpu_model

from course.cli import default_jobs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pipeline import Course, nbgrader_env, zoo

STOCK = """
# Plain nbgrader: its default preprocessors, no sandbox, no protocol.
from nbgrader.converters import Autograde
c.Autograde.autograde_preprocessors = [
    f"{p.__module__}.{p.__name__}" for p in
    Autograde.class_traits()["autograde_preprocessors"].default()]
c.Autograde.sanitize_preprocessors = [
    f"{p.__module__}.{p.__name__}" for p in
    Autograde.class_traits()["sanitize_preprocessors"].default()]
"""


def cpu() -> float:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq) from
    /proc/stat: the sandboxed kernels live in their own pid namespaces, and their CPU time
    never reaches this process's RUSAGE_CHILDREN. Run the benchmark on a quiet machine."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def timed(args: list[str], cwd: Path, check: bool = True) -> tuple[float, float]:
    c0, t0 = cpu(), time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    wall, used = time.perf_counter() - t0, cpu() - c0
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{proc.stdout[-2000:]}"
                         f"{proc.stderr[-2000:]}")
    return wall, used


def submit_ps1(course: Course, n: int) -> None:
    """n ps1 submissions: every zoo bug, four blank, the rest correct (s000, s001, ...)."""
    kinds = [("zoo-" + k, cells, True) for k, cells in sorted(zoo("ps1").items())]
    kinds += [("blank", {}, False)] * 4
    kinds += [("correct", {}, True)] * max(0, n - len(kinds))
    for i, (_kind, cells, fill) in enumerate(kinds[:n]):
        course.submit(f"s{i:03d}", "ps1", course.submission("ps1", cells, fill=fill))


def batch(root: Path, n: int, config: str = "") -> Course:
    course = Course.create(root, ["ps1"], timeout=10, extra_config=config)
    submit_ps1(course, n)
    return course


FLOOR = """
import sys, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=10, allow_errors=True, interrupt_on_timeout=True,
                       kernel_name="python3").execute()
    except Exception as exc:  # the zoo's dead kernel
        print(path, type(exc).__name__)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=default_jobs())  # course grade's default
    args = ap.parse_args()
    n = args.students
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        stock = batch(Path(tmp) / "stock", n, STOCK)
        wall, used = timed([str(Path(sys.executable).parent / "nbgrader"), "autograde", "ps1",
                            "--force"], stock.root, check=False)  # exits 1: the dead kernel
        rows.append(("plain nbgrader autograde (sequential)", wall, used))
        ours = batch(Path(tmp) / "ours", n)
        wall, used = timed([sys.executable, "-m", "course.cli", "--root", str(ours.root),
                            "grade", "ps1", "--force", "--quiet", "--jobs", str(args.jobs)],
                           ours.root)
        rows.append((f"course grade --jobs {args.jobs} (sandboxed, protocol)", wall, used))
        notebooks = sorted(str(p) for p in (stock.root / "autograded").glob("*/ps1/ps1.ipynb"))
        wall, used = timed([sys.executable, "-c", FLOOR, *notebooks], stock.root)
        rows.append(("floor: nbclient, one kernel per notebook", wall, used))
    print(f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"{n} ps1 submissions (correct, every ps1 zoo bug, blank)\n")
    print("| run | wall s | wall s / submission | CPU s / submission |")
    print("|---|---:|---:|---:|")
    for name, wall, used in rows:
        print(f"| {name} | {wall:.1f} | {wall / n:.2f} | {used / n:.2f} |")
    base, par, floor = rows
    print(f"\ncourse grade vs plain nbgrader: {base[1] / par[1]:.2f}x faster (target >= 1.8x)")
    print(f"course grade CPU per submission vs floor: {par[2] / floor[2]:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
