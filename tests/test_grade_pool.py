"""The grading pool's start-up: PoolStart hands over a working pool or its error, and
course grade starts one early only when a submission will be graded."""

from __future__ import annotations

from pathlib import Path

import pytest

from course.grader._batch import anything_to_grade, submission_digest
from course.grader._outcomes import Outcome, SubmissionOutcome, write_outcomes
from course.grader._pool import PoolStart


def _submit(root: Path, student: str, text: str = "{}") -> Path:
    folder = root / "submitted" / student / "ps1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ps1.ipynb").write_text(text)
    return folder


def test_anything_to_grade_follows_outcomes_and_digests(tmp_path: Path) -> None:
    assert not anything_to_grade(tmp_path, "ps1")  # no submitted/ at all
    ann, bob = _submit(tmp_path, "ann"), _submit(tmp_path, "bob")
    assert anything_to_grade(tmp_path, "ps1")  # never graded
    write_outcomes(tmp_path, "ps1", {
        "ann": SubmissionOutcome("ann", Outcome.GRADED, digest=submission_digest(ann)),
        "bob": SubmissionOutcome("bob", Outcome.GRADER_ERROR, digest=submission_digest(bob))})
    assert anything_to_grade(tmp_path, "ps1")  # a grader error left bob without a score
    assert not anything_to_grade(tmp_path, "ps1", only=["ann"])
    assert anything_to_grade(tmp_path, "ps1", only=["ann"], force=True)
    write_outcomes(tmp_path, "ps1", {
        s: SubmissionOutcome(s, Outcome.GRADED, digest=submission_digest(f))
        for s, f in (("ann", ann), ("bob", bob))})
    assert not anything_to_grade(tmp_path, "ps1")  # a rerun: nothing new
    _submit(tmp_path, "bob", '{"changed": 1}')
    assert anything_to_grade(tmp_path, "ps1")
    assert not anything_to_grade(tmp_path, "ps2")  # another assignment's folder is empty


# distributed's scheduler leaves a socket of its (disabled) HTTP server to the garbage
# collector; course grade runs it in its own process, these tests in pytest's.
DASK_LEAKS = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                        "ignore::pytest.PytestUnraisableExceptionWarning")


@DASK_LEAKS
def test_pool_start_gives_a_working_pool_and_closes() -> None:
    start = PoolStart(1)
    try:
        pool = start.get()
        assert pool.client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
        assert "ready" in repr(start)
    finally:
        start.close()
    start.close()  # twice is harmless


@DASK_LEAKS
def test_pool_start_hands_its_error_to_get() -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        start = PoolStart(1, scheduler="tcp://127.0.0.1:1")  # nothing listens there
        with pytest.raises(OSError):
            start.get()
    assert "failed" in repr(start)
    start.close()
