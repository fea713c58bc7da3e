"""The guide's authoring path works as written: ``tests/authoring.py`` adds a throw-away ps9 to a
copy of the repository by following docs/instructors.md ("Writing an assignment") and runs the
tests step 8 names (without grading: ``python tests/authoring.py --grade`` also runs ps9's
pipeline contract)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from authoring import ID, add_ps9, copy_repo, step_8

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_a_new_assignment_added_by_the_guide_passes_its_tests(tmp_path: Path) -> None:
    start = time.monotonic()
    root = copy_repo(tmp_path / "course")
    add_ps9(root)
    for made in (f"release/{ID}/{ID}.ipynb", f"expected/{ID}.json"):
        assert (root / made).is_file(), made
    out = step_8(root, grade=False)
    summary = out.strip().split("\n")[-1]
    assert re.fullmatch(r"=+ \d+ passed, \d+ deselected in .*", summary), out[-3000:]
    # ps9's own checks ran among them.
    for test in ("test_assignments.py::test_the_declaration_is_coherent",
                 "test_assignments.py::test_the_notebook_has_the_declared_cells",
                 "test_assignments.py::test_a_pipeline_test_checks_the_contract",
                 "test_source_notebooks.py::test_house_style",
                 "test_source_notebooks.py::test_part_headings_match_the_points",
                 "test_source_notebooks.py::test_grader_side_expected_values_are_current",
                 "test_release.py::test_release_gives_nothing_away"):
        assert re.search(rf"{test}\[{ID}\] PASSED", out), test
    assert time.monotonic() - start < 240
