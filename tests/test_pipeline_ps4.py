"""ps4 (JAX: jax.numpy, jit, grad, vmap, pmap) through the whole nbgrader pipeline, on 1, 2 and
4 CPU devices.

The grader sets the device count, in the environment of the autograde process (kernels inherit
it): JAX fixes the count when it starts, so a notebook cell cannot change it. Three temporary
courses, one autograde call each:

* 1 device (``JAX_NUM_CPU_DEVICES=1``, ``nbgrader autograde``): the solution, the untouched
  release and every file of ``tests/zoo/ps4``;
* 2 devices (``JAX_NUM_CPU_DEVICES=2``, ``nbgrader autograde``) and 4 devices (the variable
  unset: ``course grade`` defaults it to 4): the solution and two fakes whose values are right
  on any device count but which are not parallel.

A correct answer and each fake must score the same on every device count. Each chain of runs
has a persistent JAX compilation cache; sandboxed kernels only read it, and ``course grade``
(the 4-device course) first fills it by running the instructor's notebook.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline import (
    Course,
    Run,
    check_export,
    check_feedback_hides_tests,
    check_hidden_verdicts_give_nothing_away,
    check_zoo_design,
    designed_scores,
    error_names,
    zoo,
)

pytestmark = pytest.mark.slow

A = "ps4"
#: The designed auto-graded points per test cell (A: 3, B: 2 + 2 by hand, C: 3, D: 3, E: 9).
POINTS = {"ps4_wave_lecture": 1.0, "ps4_wave_hidden": 1.0, "ps4_with_value": 1.0,
          "ps4_f_jit": 1.0, "ps4_timing_harness": 1.0,
          "ps4_grad_lecture": 1.0, "ps4_grad_second": 1.0, "ps4_grad_mse": 1.0,
          "ps4_vmap_small": 1.0, "ps4_vmap_hidden": 1.0, "ps4_vmap_vectorized": 1.0,
          "ps4_split_small": 1.0, "ps4_split_errors": 1.0, "ps4_block_small": 1.0,
          "ps4_block_hidden": 1.0, "ps4_parallel_value": 1.0, "ps4_parallel_hidden": 2.0,
          "ps4_parallel_really": 2.0}
MANUAL_POINTS = 2.0  # Part B's written analysis
#: Test cells without hidden tests: what a student's Validate button runs in full.
VISIBLE = {"ps4_wave_lecture", "ps4_with_value", "ps4_f_jit", "ps4_timing_harness",
           "ps4_grad_lecture", "ps4_vmap_small", "ps4_split_small", "ps4_block_small",
           "ps4_parallel_value"}
VMAP = {"ps4_vmap_small", "ps4_vmap_hidden", "ps4_vmap_vectorized"}
SPLIT = {"ps4_split_small", "ps4_split_errors"}
BLOCK = {"ps4_block_small", "ps4_block_hidden"}
WALK = {"ps4_parallel_value", "ps4_parallel_hidden", "ps4_parallel_really"}
PARALLEL = {"ps4_parallel_really"}

#: Zoo file -> the test cells it must fail (scoring 0 there and full marks everywhere else).
EXPECTED_LOSSES: dict[str, set[str]] = {
    # The right total, not in parallel (verify_parallel): the parallelism points only.
    "vmap_fake": PARALLEL,
    "loop_fake": PARALLEL,
    "jit_fake": PARALLEL,
    "pmap_host_sum": PARALLEL,
    # Single-device jit walk + a do-nothing pmap/psum over zeros (the dataflow catches it).
    "jit_walk_token_pmap": PARALLEL,
    # Attacks on the kernel's checking code: nothing to gain, the judge is elsewhere.
    "rebinds_numpy_testing": {"ps4_wave_lecture", "ps4_wave_hidden"},
    "captures_walk_reference": BLOCK | WALK,
    "ast_transformer": SPLIT | BLOCK | WALK,  # every test cell after the answer is emptied
    # The library's reference (switched off while grading): every point of what it replaces.
    "calls_walk_pmap": BLOCK | WALK,
    "calls_shard_batch": SPLIT | WALK,  # walk_parallel uses split_walkers
    # Leading-axis handling: silently drops walkers instead of raising ValueError.
    "drops_remainder": {"ps4_split_errors"},
    # Parts A-D.
    "numpy_arrays": {"ps4_wave_lecture", "ps4_wave_hidden"},
    "jit_recompiles": {"ps4_timing_harness"},
    "wrong_grad": {"ps4_grad_mse"},
    "wrong_vmap_axis": VMAP,
    "loop_batch": {"ps4_vmap_vectorized"},
}
#: Graded again with 2 and 4 devices: their scores must not change.
ON_EVERY_COUNT = ["solution", "vmap_fake", "pmap_host_sum", "jit_walk_token_pmap"]
DEVICE_COUNTS = (1, 2, 4)


@dataclass
class Graded:
    courses: dict[int, Course]  # device count -> its course
    runs: dict[int, Run]
    scores: dict[int, dict[str, dict[str, float]]]  # device count -> student -> cell -> score

    @property
    def course(self) -> Course:
        return self.courses[1]


def grade_on(root: Path, n: int, names: list[str], cache: Path,
             fill_untouched: bool = False) -> tuple[Course, Run]:
    """A course with the solution and the zoo files ``names``, autograded in one call with
    ``n`` CPU devices; for ``n == 4`` by ``course grade`` with the count left to its default.
    The JAX variables are those ``course grade`` sets, the cache ``cache``."""
    course = Course.create(root, [A], timeout=60)
    snippets = zoo(A)
    course.submit("solution", A, course.submission(A, name="solution"))
    for name in names:
        course.submit(name, A, course.submission(A, snippets[name], name=name))
    if fill_untouched:
        course.submit("untouched", A, course.submission(A, fill=False))
    env: dict[str, str | None] = {
        "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    if n == 4:
        return course, course.grade(A, env={**env, "JAX_NUM_CPU_DEVICES": None})
    return course, course.autograde(A, env={**env, "JAX_NUM_CPU_DEVICES": str(n)})


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Two chains at once (the machine has two cores, and much of a run is waiting for
    kernels): the 1-device course, and the 2- then the 4-device course. Each chain has its own
    compilation cache (JAX's cache is not meant for concurrent writers)."""
    tmp = tmp_path_factory.mktemp(A)
    few = ON_EVERY_COUNT[1:]

    def one_device() -> dict[int, tuple[Course, Run]]:
        return {1: grade_on(tmp / "1dev", 1, list(zoo(A)), tmp / "cache1", True)}

    def more_devices() -> dict[int, tuple[Course, Run]]:
        return {n: grade_on(tmp / f"{n}dev", n, few, tmp / "cache24") for n in (2, 4)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(one_device), pool.submit(more_devices)]
        done = {n: pair for f in futures for n, pair in f.result().items()}
    courses = {n: done[n][0] for n in DEVICE_COUNTS}
    runs = {n: done[n][1] for n in DEVICE_COUNTS}
    return Graded(courses, runs, {n: c.scores(A) for n, c in courses.items()})


def full() -> dict[str, float]:
    return dict(POINTS)


def test_every_zoo_file_has_designed_losses() -> None:
    check_zoo_design(A, EXPECTED_LOSSES, POINTS, minimum=5)
    assert all(EXPECTED_LOSSES.values())  # every ps4 zoo submission loses something
    assert set(ON_EVERY_COUNT[1:]) <= set(EXPECTED_LOSSES)


def test_one_autograde_call_per_device_count(graded: Graded) -> None:
    for n, run in graded.runs.items():
        assert run.returncode == 0, (n, run.log[-3000:])
        students = graded.courses[n].students(A)
        assert set(graded.scores[n]) == set(students)
        report = graded.courses[n].report(A)
        for s in students:
            assert not report[s].failed, (n, s)  # type: ignore[attr-defined]
            assert report[s].problems == {}, (n, s)  # type: ignore[attr-defined]
    assert graded.runs[1].args[:2] == ("autograde", A)
    assert graded.runs[2].args[:2] == ("autograde", A)
    assert graded.runs[4].args[-2:] == ("grade", A)
    assert len(graded.courses[1].students(A)) == len(EXPECTED_LOSSES) + 2
    assert graded.courses[4].students(A) == sorted(ON_EVERY_COUNT)


def test_kernels_ran_on_the_graders_device_count(graded: Graded) -> None:
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


def test_gradebook_has_the_designed_points(graded: Graded) -> None:
    for course in graded.courses.values():
        assert course.max_scores(A) == POINTS


def test_solution_gets_every_autograded_point_on_every_device_count(graded: Graded) -> None:
    for n in DEVICE_COUNTS:
        assert graded.scores[n]["solution"] == POINTS, n


def test_untouched_release_scores_zero_without_crashing(graded: Graded) -> None:
    assert graded.scores[1]["untouched"] == dict.fromkeys(POINTS, 0.0)
    nb = graded.course.autograded("untouched", A)
    errors = error_names(nb)
    # Stubs raise NotImplementedError; names the stubs never reached (f_jit, df_dx, ...) are
    # undefined.
    assert errors <= {"NotImplementedError", "NameError"}, errors
    assert "NotImplementedError" in errors


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_zoo_submission_loses_exactly_its_designed_points(graded: Graded, name: str) -> None:
    assert graded.scores[1][name] == designed_scores(POINTS, EXPECTED_LOSSES[name])


def test_scores_do_not_depend_on_the_device_count(graded: Graded) -> None:
    for name in ON_EVERY_COUNT:
        by_count = {n: graded.scores[n][name] for n in DEVICE_COUNTS}
        assert by_count[1] == by_count[2] == by_count[4], (name, by_count)


def test_fakes_with_the_right_values_pass_every_visible_test(graded: Graded) -> None:
    """The parallelism and leading-axis checks are hidden tests: Validate shows nothing."""
    for name in ("vmap_fake", "loop_fake", "jit_fake", "pmap_host_sum", "drops_remainder",
                 "loop_batch"):
        assert not EXPECTED_LOSSES[name] & VISIBLE
        for cell in VISIBLE:
            assert graded.scores[1][name][cell] == POINTS[cell], (name, cell)


def test_not_parallel_is_explained(graded: Graded) -> None:
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


def test_library_calls_are_refused_not_crashed(graded: Graded) -> None:
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


def test_export_csv_agrees_with_the_gradebook(graded: Graded) -> None:
    rows = check_export(graded.course, A, graded.scores[1],
                        sum(POINTS.values()) + MANUAL_POINTS)
    assert float(rows[("vmap_fake", A)]["score"]) == sum(POINTS.values()) - 2


def test_hidden_verdicts_show_no_expected_value_and_no_student_output(graded: Graded) -> None:
    students = graded.scores[1] if isinstance(graded.scores.get(1), dict) else graded.scores
    course = graded.course
    assert check_hidden_verdicts_give_nothing_away(course, A, students) >= 5


def test_feedback_has_messages_but_no_hidden_test_code(graded: Graded) -> None:
    texts = check_feedback_hides_tests(graded.course, A, graded.scores[1], min_hidden=40)
    for student, text in texts.items():
        assert "BLOCK_CASES" not in text and "WALK_CASES" not in text, student
    text = texts["pmap_host_sum"]
    assert "walk_parallel does not run in parallel" in text
    assert "combined outside the parallel program" in text
    text = texts["drops_remainder"]
    assert re.search(r"split_walkers on 10 walkers over 4 devices must raise ValueError", text)
