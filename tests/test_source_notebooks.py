"""The instructor notebooks in source/: they run (nbval), follow the house style, and their
generated input blocks and grader-side expected values are current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from assignments import ASSIGNMENTS

from course.grader._expected import (
    BEGIN,
    author,
    check_expected,
    declarations,
    rewrite_blocks,
    update_blocks,
)

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source"
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))
IDS = [p.parent.name for p in NOTEBOOKS]


def nbg(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


@pytest.fixture(scope="module")
def blocks() -> dict[str, Any]:
    return declarations(REPO)


def test_there_are_assignments() -> None:
    """Every source notebook is declared (tests/assignments.py) and has its release and its
    expected values."""
    assert IDS and sorted(ASSIGNMENTS) == IDS, "declare each source/<id>/ in tests/assignments.py"
    released = sorted(p.name for p in (REPO / "release").iterdir() if p.is_dir())
    assert released == IDS, "run `course release` (release/<id>/ is made from source/<id>/)"
    expected = sorted(p.stem for p in (REPO / "expected").glob("*.json"))
    assert expected == IDS, "run `course expected --write` (writes expected/<id>.json)"


@pytest.mark.slow
def test_source_notebooks_run_clean_under_nbval() -> None:
    """Solutions and hidden tests execute top to bottom without an error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONHASHSEED"] = "0"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         *map(str, NOTEBOOKS)], cwd=REPO, env=env, text=True, capture_output=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    n_cells = sum(1 for p in NOTEBOOKS for c in nbformat.read(p, 4).cells
                  if c.cell_type == "code")
    assert re.search(rf"\b{n_cells} passed\b", proc.stdout), proc.stdout[-2000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_input_blocks_match_the_declarations(path: Path, blocks: dict[str, Any]) -> None:
    assert update_blocks([path], blocks, write=False) == {}
    # Blocks are optional (a short hidden input can be written in the hidden test itself);
    # a block's key names its assignment.
    keys = embedded_keys([path])
    assert all(k.startswith(path.parent.name + "_") for k in keys), keys


def embedded_keys(paths: list[Path]) -> set[str]:
    return {m["key"] for p in paths for c in nbformat.read(p, 4).cells
            for ln in c.source.split("\n") if (m := BEGIN.match(ln))}


def test_every_declared_block_is_used(blocks: dict[str, Any]) -> None:
    assert embedded_keys(NOTEBOOKS) == set(blocks)


@pytest.mark.parametrize("assignment", IDS)
def test_grader_side_expected_values_are_current(assignment: str) -> None:
    assert check_expected(REPO, assignment) == []


def test_no_notebook_holds_an_expected_value_block() -> None:
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "BEGIN EXPECTED" not in text and "make_expected" not in text, path


def test_a_tampered_input_block_is_detected_and_rewritten(blocks: dict[str, Any],
                                                          tmp_path: Path) -> None:
    nb = nbformat.read(SOURCE / "ps1" / "ps1.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "BEGIN CASES ps1_random" in c.source)
    cell.source = cell.source.replace("e0", "e00", 1)
    path = tmp_path / "ps1.ipynb"
    nbformat.write(nb, path)
    assert update_blocks([path], blocks, write=False) == {str(path): ["ps1_random"]}
    update_blocks([path], blocks, write=True)
    assert update_blocks([path], blocks, write=False) == {}
    assert nbformat.read(path, 4).cells == nbformat.read(SOURCE / "ps1" / "ps1.ipynb", 4).cells


def test_a_changed_source_notebook_makes_the_expected_values_stale(tmp_path: Path) -> None:
    (tmp_path / "source" / "ps1").mkdir(parents=True)
    (tmp_path / "expected").mkdir()
    shutil.copy(REPO / "expected" / "ps1.json", tmp_path / "expected" / "ps1.json")
    nb = nbformat.read(SOURCE / "ps1" / "ps1.ipynb", as_version=4)
    nbformat.write(nb, tmp_path / "source" / "ps1" / "ps1.ipynb")
    assert check_expected(tmp_path, "ps1") == []
    cell = next(c for c in nb.cells if nbg(c).get("grade_id") == "ps1_ts_small")
    cell.source = cell.source.replace('"q3": 4', '"q3": 5')
    nbformat.write(nb, tmp_path / "source" / "ps1" / "ps1.ipynb")
    assert check_expected(tmp_path, "ps1") == [
        "expected/ps1.json was generated from other source notebooks"]
    (tmp_path / "expected" / "ps1.json").unlink()
    assert check_expected(tmp_path, "ps1") == ["expected/ps1.json is missing"]


def test_authoring_refuses_a_solution_that_fails_its_own_visible_test(tmp_path: Path) -> None:
    (tmp_path / "source" / "ps1").mkdir(parents=True)
    nb = nbformat.read(SOURCE / "ps1" / "ps1.ipynb", as_version=4)
    cell = next(c for c in nb.cells if nbg(c).get("grade_id") == "lamport_timestamps")
    cell.source = cell.source.replace("clock.receive(carried[e.message])",
                                      "clock.tick()")
    nbformat.write(nb, tmp_path / "source" / "ps1" / "ps1.ipynb")
    with pytest.raises(RuntimeError, match="fails its own test ps1_ts_lecture"):
        author(tmp_path, "ps1", timeout=60)


def test_rewrite_rejects_unknown_and_unterminated_blocks(blocks: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="unknown CASES block"):
        rewrite_blocks("# BEGIN CASES nope\n# END CASES", blocks)
    with pytest.raises(ValueError, match="no '# END CASES'"):
        rewrite_blocks("# BEGIN CASES ps1_edge\nX = 1", blocks)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_house_style(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    assert nb.metadata.kernelspec.name == "python3"
    # Header: restart & run all, then the NAME / COLLABORATORS cell.
    assert "restart the kernel" in cells[0].source and "run all cells" in cells[0].source
    assert cells[1].source.startswith('NAME = ""') and "COLLABORATORS" in cells[1].source
    ids = [c.get("id") for c in cells]
    assert len(set(ids)) == len(ids)
    grade_ids = [nbg(c)["grade_id"] for c in cells if nbg(c)]
    assert len(set(grade_ids)) == len(grade_ids)
    # The locked set-up cell comes before any answer or test cell and routes stderr.
    graded = [i for i, c in enumerate(cells) if nbg(c).get("solution") or nbg(c).get("grade")]
    setup = next(i for i, c in enumerate(cells) if "setup_notebook()" in c.source)
    assert setup < graded[0]
    assert nbg(cells[setup])["locked"] and not cells[setup].metadata.get("editable", True)
    for cell in cells:
        meta = nbg(cell)
        assert not cell.get("outputs"), "source notebooks are stored without outputs"
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert meta.get("grade") and meta.get("locked") and not meta.get("solution")
        if cell.cell_type == "code" and meta.get("solution"):
            assert "### BEGIN SOLUTION" in cell.source and '"""' in cell.source  # docstring
        if cell.cell_type == "code" and meta.get("grade"):
            first = cell.source.split("\n")[0]
            assert re.match(r"# Checks \S.*\.$", first), first
            assert meta["points"] > 0
            # A cell that switches off the library does so in a with-block (finally).
            if "reference_disabled" in cell.source:
                assert "with reference_disabled():" in cell.source
            assert "course.lamport_timestamps(" not in cell.source  # never at grading time
            # The grading protocol: a test cell reports its cases, the grader judges them.
            assert "case(" in cell.source, first
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[-1]
            if "### BEGIN HIDDEN TESTS" in cell.source:
                assert not re.search(r"^\s*assert ", hidden, re.M), first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_part_headings_match_the_points(path: Path) -> None:
    """Each ``## Part X (N points)`` heading's N is the points of the graded cells under it
    (tests and written answers); the parts are the declared ones (Assignment.parts), and
    every graded cell is under a part."""
    nb = nbformat.read(path, as_version=4)
    headings: dict[str, float] = {}
    cells: dict[str, float] = {}
    current = None
    for cell in nb.cells:
        m = re.search(r"^## Part ([A-Z]) \((\d+) points?\)", cell.source, re.M)
        if m:
            current = m[1]
            assert current not in headings, f"two headings for Part {current}"
            headings[current], cells[current] = float(m[2]), 0.0
        if nbg(cell).get("grade"):
            assert current, f"graded cell {nbg(cell)['grade_id']} comes before any part heading"
            cells[current] += float(nbg(cell)["points"])
    assert headings == cells, "heading points vs the graded cells' points, per part"
    assert headings == ASSIGNMENTS[path.parent.name].source_parts, "tests/assignments.py"
