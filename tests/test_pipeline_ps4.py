"""ps4 (JAX: jax.numpy, jit, grad, vmap, pmap) through the whole nbgrader pipeline, on 1, 2 and
4 CPU devices.

The grader sets the device count, in the environment of the autograde process (kernels inherit
it): JAX fixes the count when it starts, so a notebook cell cannot change it. Three temporary
courses, one autograde call each:

* 1 device (``JAX_NUM_CPU_DEVICES=1``, ``nbgrader autograde``): the solution, the untouched
  release and every file of ``tests/zoo/ps4``;
* 2 devices (``JAX_NUM_CPU_DEVICES=2``, ``nbgrader autograde``) and 4 devices (the variable
  unset: ``course grade`` defaults it to 4): the solution and three fakes whose values are right
  on any device count but which are not parallel.

The 1-device batch is the one :class:`contract.PipelineContract` checks (declared in
``tests/assignments.py``); a correct answer and each fake must score the same on every device
count. Each chain of runs
has a persistent JAX compilation cache; sandboxed kernels only read it. ``course grade``
(the 4-device course) first fills it by running the instructor's notebook; the 1- and
2-device courses do the same before their ``nbgrader autograde`` (:func:`warm_cache`).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from assignments import PS4
from contract import Graded, PipelineContract, prepare_batch
from pipeline import Course, Run, nbgrader_env

pytestmark = pytest.mark.slow

A = PS4.id
DEVICE_COUNTS = PS4.device_counts
#: Graded on every device count: their scores must not change.
ON_EVERY_COUNT = ["solution", *PS4.on_every_count]
JAX_ENV = {"JAX_PLATFORMS": "cpu", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


@dataclass
class GradedOnDevices(Graded):
    """The 1-device batch (the whole zoo: what the contract checks), and every count's."""

    courses: dict[int, Course] = field(default_factory=dict)  # device count -> its course
    runs: dict[int, Run] = field(default_factory=dict)
    by_count: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)


def warm_cache(course: Course, n: int, cache: Path) -> None:
    """Fill ``cache`` for ``n`` devices by running the instructor's notebook once with the
    cache writable, as ``course grade`` does before it grades (``course.grader._warm``):
    sandboxed kernels only read the cache, so without this every submission of a plain
    ``nbgrader autograde`` compiles everything again (14 s a submission instead of 8)."""
    env = nbgrader_env({**JAX_ENV, "JAX_COMPILATION_CACHE_DIR": str(cache),
                        "JAX_NUM_CPU_DEVICES": str(n)})
    done = subprocess.run([sys.executable, "-m", "course.grader._warm",
                           str(course.root / "source" / A)], cwd=course.root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def grade_on(course: Course, n: int, cache: Path) -> Run:
    """Autograde ``course`` in one call with ``n`` CPU devices; for ``n == 4`` by
    ``course grade`` with the count left to its default. The JAX variables are those
    ``course grade`` sets, the cache ``cache``."""
    env: dict[str, str | None] = {**JAX_ENV, "JAX_COMPILATION_CACHE_DIR": str(cache)}
    if n == 4:
        return course.grade(A, env={**env, "JAX_NUM_CPU_DEVICES": None})
    return course.autograde(A, env={**env, "JAX_NUM_CPU_DEVICES": str(n)})


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> GradedOnDevices:
    """Two chains at once (the machine has two cores, and much of a run is waiting for
    kernels): the 1-device course with the whole batch, and the 2- then the 4-device course
    with ON_EVERY_COUNT. Each chain has its own compilation cache (JAX's cache is not meant
    for concurrent writers)."""
    tmp = tmp_path_factory.mktemp(A)

    def one_device() -> dict[int, tuple[Course, Run]]:
        course = prepare_batch(PS4, tmp / "1dev")
        warm_cache(course, 1, tmp / "cache1")
        return {1: (course, grade_on(course, 1, tmp / "cache1"))}

    def more_devices() -> dict[int, tuple[Course, Run]]:
        out = {}
        for n in DEVICE_COUNTS[1:]:
            course = prepare_batch(PS4, tmp / f"{n}dev", entries=list(PS4.on_every_count),
                                   untouched=False)
            if n != 4:  # `course grade` (4 devices) warms the cache itself
                warm_cache(course, n, tmp / "cache24")
            out[n] = (course, grade_on(course, n, tmp / "cache24"))
        return out

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(one_device), pool.submit(more_devices)]
        done = {n: pair for f in futures for n, pair in f.result().items()}
    courses = {n: done[n][0] for n in DEVICE_COUNTS}
    runs = {n: done[n][1] for n in DEVICE_COUNTS}
    by_count = {n: c.scores(A) for n, c in courses.items()}
    return GradedOnDevices(PS4, courses[1], runs[1], by_count[1], courses=courses, runs=runs,
                           by_count=by_count)


class TestPipeline(PipelineContract):
    spec = PS4


def test_one_grading_run_per_device_count(graded: GradedOnDevices) -> None:
    for n, run in graded.runs.items():
        assert run.returncode == 0, (n, run.log[-3000:])
        students = graded.courses[n].students(A)
        assert set(graded.by_count[n]) == set(students)
        report = graded.courses[n].report(A)
        for s in students:
            assert not report[s].failed, (n, s)  # type: ignore[attr-defined]
            assert report[s].problems == {}, (n, s)  # type: ignore[attr-defined]
    assert graded.runs[1].args[:2] == ("autograde", A)
    assert graded.runs[2].args[:2] == ("autograde", A)
    assert graded.runs[4].args[-2:] == ("grade", A)
    assert graded.courses[4].students(A) == sorted(ON_EVERY_COUNT)


def test_every_device_count_has_the_designed_points_and_full_marks(
        graded: GradedOnDevices) -> None:
    for n, course in graded.courses.items():
        assert course.max_scores(A) == dict(PS4.points), n
        assert graded.by_count[n]["solution"] == dict(PS4.points), n


def test_kernels_ran_on_the_graders_device_count(graded: GradedOnDevices) -> None:
    """The kernels saw the count from the autograde process's environment; `course grade`
    defaults it to 4 and says so."""
    for n, course in graded.courses.items():
        for student in course.students(A):
            nb = course.autograded(student, A)
            setup = next(c for c in nb.cells if c.get("id") == "ps4-setup")
            text = "".join(o.get("text", "") for o in setup.outputs)
            assert f"{n} device(s) in total, {n} local" in text, (n, student, text)
        nb = course.autograded("solution", A)
        value = next(c for c in nb.cells if c.get("id") == "ps4_parallel_value")
        # Judged grader-side against the count in the grader's environment (shape (n,)).
        assert value.outputs[0]["text"].startswith("Judged by the grader: all"), value.outputs
    assert "kernels with JAX_NUM_CPU_DEVICES=4 ==" in graded.runs[4].log


def test_scores_do_not_depend_on_the_device_count(graded: GradedOnDevices) -> None:
    for name in ON_EVERY_COUNT:
        by_count = {n: graded.by_count[n][name] for n in DEVICE_COUNTS}
        assert by_count[1] == by_count[2] == by_count[4], (name, by_count)


def test_not_parallel_is_explained(graded: GradedOnDevices) -> None:
    """The failing cell says why, with verify_parallel's reasons (kept in the feedback)."""
    reasons = {"vmap_fake": "no shard_map/pmap in the jaxpr",
               "loop_fake": "no shard_map/pmap in the jaxpr",
               "jit_fake": "no shard_map/pmap in the jaxpr",
               "pmap_host_sum": "collective: none inside the mapped body"}
    for n, course in graded.courses.items():
        for name, reason in reasons.items():
            if name not in course.students(A):
                continue
            nb = course.autograded(name, A)
            cell = next(c for c in nb.cells if c.get("id") == "ps4_parallel_really")
            error = next(o for o in cell.outputs if o.output_type == "error")
            assert "does not run in parallel" in error.evalue, (n, name, error.evalue)
            assert reason in error.evalue, (n, name, error.evalue)
            assert "NOT PARALLEL" in error.evalue


def test_library_calls_are_refused_not_crashed(graded: GradedOnDevices) -> None:
    nb = graded.course.autograded("calls_walk_pmap", A)
    cell = next(c for c in nb.cells if c.get("id") == "ps4_parallel_value")
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.ename == "RuntimeError" and "course.jaxtools.make_walk_pmap" in error.evalue
    nb = graded.course.autograded("calls_shard_batch", A)
    cell = next(c for c in nb.cells if c.get("id") == "ps4_split_small")
    error = next(o for o in cell.outputs if o.output_type == "error")
    assert error.ename == "RuntimeError" and "course.jaxtools.shard_batch" in error.evalue
    # Outside the test cells the library is back: the scratch cell's comparison ran.
    scratch = next(c for c in nb.cells if c.get("id") == "ps4-scratch-e")
    assert not [o for o in scratch.outputs if o.output_type == "error"]


def test_feedback_explains_what_is_not_parallel(graded: GradedOnDevices) -> None:
    texts = graded.feedback_texts()
    for student, text in texts.items():
        assert "BLOCK_CASES" not in text and "WALK_CASES" not in text, student
    assert "combined outside the parallel program" in texts["pmap_host_sum"]
