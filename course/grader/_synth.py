"""Submissions built from an assignment's notebooks: what the pipeline tests and ``make demo``
submit.

A submission is the release notebook with its answer cells (nbgrader solution cells) replaced:
by given code, else by the instructor's solution (``fill``) or left as released. A *snippet
file* (``tests/zoo/<assignment>/<name>.py``) is Python split into sections by lines
``# %% <grade_id>``; each section replaces the answer cell with that grade id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from nbformat.notebooknode import NotebookNode

__all__ = ["build_submission", "grade_id", "is_answer", "load_snippet", "solutions",
           "strip_markers"]

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def grade_id(cell: NotebookNode) -> str | None:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return str(gid) if gid is not None else None


def is_answer(cell: NotebookNode) -> bool:
    """A cell the student writes in: an nbgrader solution cell (code, or a written answer)."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def strip_markers(source: str, markers: Sequence[str] = SOLUTION_MARKERS) -> str:
    """``source`` without the marker lines (what the instructor's solution runs)."""
    return "\n".join(ln for ln in source.split("\n") if ln.strip() not in markers)


def solutions(source_nb: NotebookNode) -> dict[str, str]:
    """The instructor's answers (code and written), markers removed: {grade_id: text}."""
    return {str(grade_id(c)): strip_markers(c.source) for c in source_nb.cells if is_answer(c)}


def load_snippet(path: Path) -> dict[str, str]:
    """The ``# %% <grade_id>`` sections of a snippet file."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        m = re.fullmatch(r"# %% (\S+)\s*", line)
        if m:
            current = sections.setdefault(m[1], [])
        elif current is not None:
            current.append(line)
    if not sections:
        raise ValueError(f"{path}: no '# %% <grade_id>' sections")
    return {k: "\n".join(v).strip("\n") + "\n" for k, v in sections.items()}


def build_submission(release_nb: NotebookNode, answers: Mapping[str, str],
                     cells: Mapping[str, str] | None = None, *, delete: Iterable[str] = (),
                     name: str = "") -> NotebookNode:
    """``release_nb`` (modified in place and returned) with each answer cell replaced by
    ``cells[grade_id]`` where given, else by ``answers[grade_id]`` where given (pass the
    :func:`solutions` to fill, ``{}`` to leave as released); cells whose grade id is in
    ``delete`` are removed; ``NAME`` is set to ``name``."""
    cells = dict(cells or {})
    known = {str(grade_id(c)) for c in release_nb.cells if is_answer(c)}
    unknown = set(cells) - known
    if unknown:
        raise KeyError(f"No answer cells {sorted(unknown)} (answer cells: {sorted(known)})")
    for cell in release_nb.cells:
        gid = grade_id(cell)
        if is_answer(cell) and gid in cells:
            cell.source = cells[str(gid)]
        elif is_answer(cell) and gid in answers:
            cell.source = answers[str(gid)]
        if cell.cell_type == "code" and cell.source.startswith('NAME = ""'):
            cell.source = f'NAME = "{name}"\nCOLLABORATORS = ""'
    drop = set(delete)
    missing = drop - {grade_id(c) for c in release_nb.cells}
    if missing:
        raise KeyError(f"Cannot delete {sorted(missing)}: no such cells")
    release_nb.cells = [c for c in release_nb.cells if grade_id(c) not in drop]
    return release_nb
