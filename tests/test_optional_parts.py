"""Optional parts (ps3's Part D): the instructor's switch, ``OptionalParts`` in
nbgrader_config.py (:class:`course.nbplugins.OptionalParts`).

* Off (the repository's setting): the part is in source/ but in neither release/ nor the
  gradebook, so it is neither set nor graded; the rest of the assignment is exactly what the
  pipeline contract grades (tests/test_pipeline_ps3.py).
* On (``c.OptionalParts.include = {"ps3": ["D"]}``): the release holds the part, the gradebook
  counts its points, the solution gets them all, the untouched release none, and each buggy
  version of the part (``tests/zoo/ps3-part-d/``) loses exactly the part's cells declared for
  it and keeps every other point.
* The preprocessor itself: what a part is, and a clear error for a part that is not declared
  optional or has no heading.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from assignments import ASSIGNMENTS
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from pipeline import REPO, ZOO, Course, zoo
from traitlets.config import PyFileConfigLoader

from course.nbplugins import OptionalParts

SPEC = ASSIGNMENTS["ps3"]
PART = SPEC.optional["D"]
A = SPEC.id


def _grade_ids(nb: nbformat.NotebookNode) -> set[str]:
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def _tiny() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("# Title"), new_code_cell("setup = 1"),
        new_markdown_cell("## Part A (1 point)\n\nWrite a."), new_code_cell("a = 1"),
        new_markdown_cell("## Part B (2 points)"), new_code_cell("b = 2"),
        new_markdown_cell("Some text of Part B"), new_code_cell("b2 = 2"),
        new_markdown_cell("## Optional: more reading (not graded)"), new_code_cell("c = 3"),
    ])


def _run(pp: OptionalParts, assignment: str = "psx") -> list[str]:
    nb, _ = pp.preprocess(_tiny(), {"nbgrader": {"assignment": assignment}})
    return [c.source.splitlines()[0] for c in nb.cells]


def test_a_part_off_is_its_heading_up_to_the_next_heading() -> None:
    assert _run(OptionalParts(optional={"psx": ["B"]})) == [
        "# Title", "setup = 1", "## Part A (1 point)", "a = 1",
        "## Optional: more reading (not graded)", "c = 3"]
    every = _run(OptionalParts(optional={"psx": ["B"]}, include={"psx": ["B"]}))
    assert len(every) == 10
    assert _run(OptionalParts(optional={"psx": ["B"]}), assignment="other") == every


def test_a_part_that_is_not_optional_or_has_no_heading_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"switches on \['C'\] of 'psx'.*does not declare"):
        _run(OptionalParts(optional={"psx": ["B"]}, include={"psx": ["C"]}))
    with pytest.raises(ValueError, match=r"psx: no '## Part X' heading .*\['E'\]"):
        _run(OptionalParts(optional={"psx": ["E"]}))


def test_the_config_declares_the_declared_optional_parts_and_sets_none() -> None:
    """nbgrader_config.py and tests/assignments.py name the same optional parts; the
    repository ships with all of them off; the preprocessor runs first, before nbgrader's
    own default list (unchanged: an nbgrader upgrade that changes it shows here)."""
    from nbgrader.converters import GenerateAssignment

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert dict(config.OptionalParts.optional) == {
        s.id: sorted(s.optional) for s in ASSIGNMENTS.values() if s.optional}
    assert dict(config.OptionalParts.include) == {}
    default = GenerateAssignment().preprocessors  # no config: nbgrader's own list
    names = [f"nbgrader.preprocessors.{pp.__name__}" for pp in default]
    assert config.GenerateAssignment.preprocessors == ["course.nbplugins.OptionalParts", *names]


def test_the_release_has_no_part_d() -> None:
    release = nbformat.read(REPO / "release" / A / f"{A}.ipynb", as_version=4)
    source = nbformat.read(REPO / "source" / A / f"{A}.ipynb", as_version=4)
    part = {*PART.points, *PART.manual}
    assert part <= _grade_ids(source)
    assert not part & _grade_ids(release)
    assert not any(c.source.startswith("## Part D") for c in release.cells)


def test_the_optional_zoo_is_the_declared_one() -> None:
    assert set(zoo(f"{A}-part-d")) == set(PART.zoo)
    assert (ZOO / f"{A}-part-d").is_dir()


@pytest.mark.slow
def test_switched_on_part_d_is_released_and_graded(tmp_path: Path) -> None:
    course = Course.create(tmp_path / "c", [A], timeout=SPEC.timeout,
                           extra_config='\nc.OptionalParts.include = {"ps3": ["D"]}\n')
    assert _grade_ids(course.release_notebook(A)) >= {*PART.points, *PART.manual}
    assert course.max_scores(A) == SPEC.source_points
    course.submit("solution", A, course.submission(A, name="solution"))
    course.submit("untouched", A, course.submission(A, fill=False))
    snippets = zoo(f"{A}-part-d")
    for name in sorted(PART.zoo):
        course.submit(name, A, course.submission(A, snippets[name], name=name))
    run = course.grade(A)
    assert run.returncode == 0, run.log[-3000:]
    scores = course.scores(A)
    assert scores["solution"] == SPEC.source_points
    assert scores["untouched"] == dict.fromkeys(SPEC.source_points, 0.0)
    for name, lost in PART.zoo.items():
        want = {c: 0.0 if c in lost else p for c, p in SPEC.source_points.items()}
        assert scores[name] == want, name
    for name in PART.pass_visible:
        assert all(scores[name][c] == PART.points[c] for c in PART.visible), name
    outcomes = json.loads((course.root / ".grading" / f"outcomes-{A}.json").read_text())
    assert {s: o["outcome"] for s, o in outcomes.items()} == dict.fromkeys(scores, "graded")
