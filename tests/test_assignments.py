"""The assignment declarations (``tests/assignments.py``) agree with themselves, with the
source notebooks, with the zoo and with the pipeline tests: fast checks, before any grading."""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest
from assignments import ASSIGNMENTS, Assignment
from contract import PipelineContract
from pipeline import ZOO, zoo

from course.grader._synth import is_answer

REPO = Path(__file__).resolve().parents[1]
SPECS = [ASSIGNMENTS[a] for a in sorted(ASSIGNMENTS)]
IDS = [s.id for s in SPECS]


def test_every_assignment_in_source_is_declared() -> None:
    in_source = {p.parent.name for p in (REPO / "source").glob("*/*.ipynb")}
    assert in_source == set(ASSIGNMENTS), (
        f"source/ has {sorted(in_source - set(ASSIGNMENTS))} undeclared, tests/assignments.py "
        f"declares {sorted(set(ASSIGNMENTS) - in_source)} with no source notebook: add an "
        f"Assignment(...) to ASSIGNMENTS for each new source/<id>/")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_declaration_is_coherent(spec: Assignment) -> None:
    assert spec.problems_with_the_design() == []


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_zoo_is_the_declared_one(spec: Assignment) -> None:
    files, declared = set(zoo(spec.id)), set(spec.zoo)
    assert files == declared, (
        f"tests/zoo/{spec.id}/ has files {sorted(files - declared)} that {spec.id}'s zoo does "
        f"not declare, and lacks {sorted(declared - files)} that it does")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_notebook_has_the_declared_cells(spec: Assignment) -> None:
    notebooks = sorted((REPO / "source" / spec.id).glob("*.ipynb"))
    assert [p.stem for p in notebooks] == [spec.id], "one notebook, source/<id>/<id>.ipynb"
    nb = nbformat.read(notebooks[0], as_version=4)
    meta = [(c, c.metadata.get("nbgrader", {})) for c in nb.cells]
    tests = {m["grade_id"]: float(m["points"]) for c, m in meta
             if m.get("grade") and c.cell_type == "code" and not m.get("solution")}
    manual = {m["grade_id"]: float(m["points"]) for c, m in meta
              if m.get("grade") and c.cell_type == "markdown"}
    hidden = {m["grade_id"] for c, m in meta if "### BEGIN HIDDEN TESTS" in c.source}
    assert tests == spec.source_points, "test cells and points (Assignment.points, .optional)"
    assert manual == spec.source_manual, "written answers and points (Assignment.manual)"
    assert hidden == spec.source_hidden, "cells with hidden tests (all but Assignment.visible)"
    answers = {m["grade_id"] for c, m in meta if is_answer(c)}
    for name, cells in zoo(spec.id).items():  # a zoo file only replaces answer cells
        assert set(cells) <= answers, (f"tests/zoo/{spec.id}/{name}.py", set(cells) - answers)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_a_pipeline_test_checks_the_contract(spec: Assignment) -> None:
    path = Path(__file__).with_name(f"test_pipeline_{spec.id}.py")
    assert path.is_file(), f"write {path.name}: a fixture `graded` and a PipelineContract"
    module = importlib.import_module(path.stem)
    contracts = [v for v in vars(module).values()
                 if isinstance(v, type) and issubclass(v, PipelineContract)
                 and v is not PipelineContract]
    assert [c.spec for c in contracts] == [spec]
    marks = getattr(module, "pytestmark", [])
    marks = marks if isinstance(marks, list) else [marks]
    assert any(m.name == "slow" for m in marks), (
        f"{path.name}: pytestmark = pytest.mark.slow (make unit skips grading)")


def test_the_zoo_has_no_undeclared_assignment() -> None:
    """tests/zoo/<id>/ for each assignment, tests/zoo/<id>-part-<x>/ for an optional part."""
    folders = {p.name for p in ZOO.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    declared = {*ASSIGNMENTS, *(f"{a}-part-{x.lower()}" for a, s in ASSIGNMENTS.items()
                                for x in s.optional)}
    assert folders <= declared, sorted(folders - declared)


def test_an_incoherent_declaration_is_refused() -> None:
    """What the coherence check catches (so that it can fail)."""
    from dataclasses import replace

    from assignments import PS1

    bad = replace(PS1, parts={"A": 4, "B": 7}, pass_visible=frozenset({"max_without_plus_one"}),
                  zoo={**PS1.zoo, "warns": frozenset({"ps1_nope"})}, problems=frozenset({"x"}))
    assert bad.problems_with_the_design() == [
        "the parts add up to 11 points, the test cells and written answers to 13",
        "zoo entry warns loses cells that are not test cells: ['ps1_nope']",
        "pass_visible entry max_without_plus_one must lose hidden cells only, not "
        f"{sorted(PS1.zoo['max_without_plus_one'])}",
        "names that are not zoo entries: ['x']"]
    assert replace(PS1, pass_visible=frozenset()).problems_with_the_design() == [
        "no zoo entry passes every visible test (pass_visible)"]


def test_an_incoherent_optional_part_is_refused() -> None:
    from dataclasses import replace

    from assignments import PS3

    part = PS3.optional["D"]
    bad = replace(part, visible=frozenset(part.points), zoo={"x": frozenset({"ps3_nope"})},
                  pass_visible=frozenset({"y"}))
    assert replace(PS3, optional={"D": bad, "A": part}).problems_with_the_design() == [
        "optional Part D: visible cells must be test cells, and one must hold hidden tests",
        "optional Part D's zoo entry x must lose some of the part's test cells, not "
        "['ps3_nope']",
        "optional Part D: pass_visible entry y must be in its zoo and lose hidden cells only",
        "Part A is declared both graded and optional"]
