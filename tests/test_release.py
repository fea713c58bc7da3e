"""release/ is committed, is exactly what ``nbgrader generate_assignment`` makes from source/
today, and gives nothing away: no solution code, no hidden tests."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pipeline import (
    HIDDEN_MARKERS,
    SOLUTION_MARKERS,
    hidden_only_lines,
    region_lines,
    solution_only_lines,
    visible_lines,
)
from traitlets.config import PyFileConfigLoader

from course.nbplugins import OptionalParts

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "source").iterdir()
                     if p.is_dir() and any(p.glob("*.ipynb")))
RELEASED = sorted((REPO / "release").glob("*/*.ipynb"))


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts
                  and ".ipynb_checkpoints" not in p.parts)


def normalise(data: bytes) -> bytes:
    """What could differ between two runs of generate_assignment on the same source. nbgrader
    0.9.6 writes byte-identical notebooks across runs and course roots (checked here); the
    only things we would forgive are per-cell execution timestamps and the trailing newline."""
    nb = json.loads(data)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def test_release_is_in_git() -> None:
    """Every file of release/ is known to git (``git add release/`` is enough; students get
    release/ from the repository), and every assignment has its release."""
    tracked = subprocess.run(["git", "ls-files", "release"], cwd=REPO, text=True,
                             capture_output=True, check=True).stdout.split()
    untracked = sorted(set(f"release/{f}" for f in files(REPO / "release")) - set(tracked))
    assert not untracked, f"run `git add release/`: {untracked}"
    assert sorted(tracked) == [f"release/{f}" for f in files(REPO / "release")], (
        "release/ lacks files git knows: run `course release`")
    assert [p.parent.name for p in RELEASED] == ASSIGNMENTS, "run `course release`"


@pytest.mark.slow
def test_release_is_what_generate_assignment_makes_now(tmp_path: Path) -> None:
    """`course release` in a copy of the course regenerates release/ byte for byte."""
    shutil.copytree(REPO / "source", tmp_path / "source",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(REPO / "expected", tmp_path / "expected")  # checked, never released
    (tmp_path / "nbgrader_config.py").write_text(textwrap.dedent(f"""\
        load_subconfig({str(REPO / 'nbgrader_config.py')!r})
        c = get_config()  # noqa: F821
        c.CourseDirectory.root = {str(tmp_path)!r}
        """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(tmp_path),
                           "release"], cwd=tmp_path, env=env, text=True, capture_output=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert files(tmp_path / "release") == files(REPO / "release")
    for rel in files(REPO / "release"):
        new = (tmp_path / "release" / rel).read_bytes()
        old = (REPO / "release" / rel).read_bytes()
        assert normalise(new) == normalise(old), (
            f"release/{rel} is stale: run `course release` and commit the result")
        assert new == old, f"release/{rel} differs in bytes only (line endings?)"


@pytest.mark.parametrize("path", RELEASED, ids=[p.parent.name for p in RELEASED])
def test_release_gives_nothing_away(path: Path) -> None:
    release = nbformat.read(path, as_version=4)
    source = nbformat.read(REPO / "source" / path.parent.name / path.name, as_version=4)
    text = "\n".join(c.source for c in release.cells)
    for marker in (*SOLUTION_MARKERS, *HIDDEN_MARKERS, "BEGIN EXPECTED", "BEGIN CASES",
                   "_CASES = [", "_TRACES = ["):
        assert marker not in text, marker
    for line in solution_only_lines(source, release):
        assert line not in text, line
    hidden = hidden_only_lines(source, release)
    # Each hidden region has a line (12+ characters) seen nowhere else: what the leak checks
    # (here, and in the feedback: tests/contract.py) look for.
    for cell in source.cells:
        region = {ln.strip() for ln in region_lines(cell.source, HIDDEN_MARKERS)}
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert region & set(hidden), (
                f"{cell.metadata.nbgrader.grade_id}: every line of its hidden tests is also "
                f"visible or shorter than 12 characters, so no check could see it leak")
    # Every line of a hidden test, however short, is absent from the release unless the very
    # same line is also visible in the source notebook (e.g. `with reference_disabled():`).
    released_lines = {ln.strip() for ln in text.split("\n")}
    visible = visible_lines([source])
    for cell in source.cells:
        for line in region_lines(cell.source, HIDDEN_MARKERS):
            if line.strip() in released_lines:
                assert line.strip() in visible, line
    for line in hidden:
        assert line not in text, line
    assert "make_expected" not in text and "cases.py" not in text


def ends_with_a_case(source: str) -> bool:
    """Whether the cell's last statement is a bare ``case(...)``/``mutex_case(...)`` call (its
    value, the student's result, is displayed)."""
    body = ast.parse(source).body
    last = body[-1] if body else None
    return (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            and isinstance(last.value.func, ast.Name)
            and last.value.func.id in ("case", "mutex_case"))


def test_a_cell_ending_with_a_case_is_recognised() -> None:
    assert ends_with_a_case('from course.grading import case\ncase("k", f, 2, want=4)')
    assert not ends_with_a_case('case("k", f, 2, want=4)\nprint("f looks right.")')
    assert not ends_with_a_case('_ = case("k", f, 2, want=4)')


@pytest.mark.parametrize("path", RELEASED, ids=[p.parent.name for p in RELEASED])
def test_release_keeps_the_tests_and_the_stubs(path: Path) -> None:
    release = nbformat.read(path, as_version=4)
    source = nbformat.read(REPO / "source" / path.parent.name / path.name, as_version=4)
    # without the optional parts the course does not set (as generate_assignment does)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    source, _ = OptionalParts(config=config).preprocess(
        source, {"nbgrader": {"assignment": path.parent.name}})

    def graded(nb: Any) -> dict[str, float]:
        return {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade")}

    assert graded(release) == graded(source)
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        assert not cell.get("outputs")
        if cell.cell_type == "code" and meta.get("solution"):
            assert "raise NotImplementedError()" in cell.source
        if cell.cell_type == "markdown" and meta.get("solution"):
            assert cell.source.strip() == "YOUR ANSWER HERE"
        if meta.get("grade") and cell.cell_type == "code":
            assert meta["locked"] and meta.get("checksum")
            assert not ends_with_a_case(cell.source), (
                f"{meta['grade_id']} ends with a bare case(...), which displays the student's "
                f"result: nbgrader's Validator reads a displayed number as partial credit "
                f"(and fails when it exceeds the cell's points). End the cell with print(...)")
    # Visible tests are shipped whole.
    for s, r in zip(source.cells, release.cells, strict=True):
        meta = s.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and "HIDDEN" not in s.source:
            assert r.source == s.source
