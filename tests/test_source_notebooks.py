"""The instructor notebooks in source/: they run (nbval), follow the house style, and their
embedded expected values still match the reference library."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source"
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))
IDS = [p.parent.name for p in NOTEBOOKS]


def nbg(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


@pytest.fixture(scope="module")
def make_expected() -> dict[str, Any]:
    return runpy.run_path(str(SOURCE / "make_expected.py"))


def test_there_are_assignments() -> None:
    assert IDS == ["ps1", "ps2", "ps4"]


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
def test_embedded_expected_values_match_the_reference(path: Path,
                                                      make_expected: dict[str, Any]) -> None:
    assert make_expected["update"]([path], write=False) == {}
    keys = make_expected["embedded_keys"]([path])
    assert keys and all(k.startswith(path.parent.name + "_") for k in keys)


def test_every_expected_block_is_used(make_expected: dict[str, Any]) -> None:
    assert make_expected["embedded_keys"](NOTEBOOKS) == set(make_expected["BLOCKS"])


def test_a_tampered_expected_value_is_detected(make_expected: dict[str, Any],
                                               tmp_path: Path) -> None:
    nb = nbformat.read(SOURCE / "ps1" / "ps1.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "BEGIN EXPECTED ps1_random" in c.source)
    cell.source = re.sub(r"'(\d+) ", lambda m: f"'{int(m[1]) + 1} ", cell.source, count=1)
    path = tmp_path / "ps1.ipynb"
    nbformat.write(nb, path)
    assert make_expected["update"]([path], write=False) == {str(path): ["ps1_random"]}
    make_expected["update"]([path], write=True)
    assert make_expected["update"]([path], write=False) == {}
    assert nbformat.read(path, 4).cells == nbformat.read(SOURCE / "ps1" / "ps1.ipynb", 4).cells


def test_rewrite_source_rejects_unknown_and_unterminated_blocks(
        make_expected: dict[str, Any]) -> None:
    rewrite = make_expected["rewrite_source"]
    with pytest.raises(KeyError, match="unknown EXPECTED block"):
        rewrite("# BEGIN EXPECTED nope\n# END EXPECTED")
    with pytest.raises(ValueError, match="no '# END EXPECTED'"):
        rewrite("# BEGIN EXPECTED ps1_edge\nX = 1")


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_part_headings_match_the_points(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    parts: dict[str, float] = {}
    current = None
    for cell in nb.cells:
        m = re.search(r"^## Part ([A-Z]) \((\d+) points\)", cell.source, re.M)
        if m:
            current = m[1]
            parts[current] = 0.0
            heading = float(m[2])
            parts[current + "!"] = heading
        if nbg(cell).get("grade") and current:
            parts[current] += float(nbg(cell)["points"])
    letters = [k for k in parts if not k.endswith("!")]
    assert len(letters) >= 3
    for k in letters:
        assert parts[k] == parts[k + "!"], (k, parts[k], parts[k + "!"])
