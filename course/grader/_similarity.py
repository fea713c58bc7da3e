"""``course similarity ASSIGNMENT``: answer cells that look copied, from each other or from the
library's reference code. It flags for a TA to look at; it never changes a score.

Fingerprints come from copydetect (winnowing, as MOSS does, on pygments tokens with names and
literals normalized, so renaming variables does not hide a copy). Per student, the code answer
cells of the assignment's notebooks are joined in notebook order; the released stubs are
boilerplate (their fingerprints are ignored). Every pair of students, and every student
against each module of the ``course`` package, is compared; a pair is listed when the copied
share of either side reaches ``threshold``, with the matching lines.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from ._synth import grade_id, is_answer

__all__ = ["Match", "answer_code", "find_similar"]

K, WINDOW = 25, 1  # copydetect's noise threshold (k-gram length) and winnowing window


@dataclass(frozen=True)
class Match:
    """Two codes with a large shared part: ``share`` is the copied fraction of each side."""

    left: str
    right: str
    share: tuple[float, float]
    lines: tuple[str, ...] = field(default=())  # the left side's matching lines

    def __repr__(self) -> str:
        return f"Match({self.left} ~ {self.right}: {self.share[0]:.0%} / {self.share[1]:.0%})"


def answer_code(folder: Path) -> str:
    """The code answer cells of every notebook in ``folder``, in order."""
    import nbformat

    parts = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable notebook has no code to compare
            continue
        parts += [f"# {grade_id(c)}\n{c.source}" for c in nb.cells
                  if c.cell_type == "code" and is_answer(c)]
    return "\n\n".join(parts)


def _fingerprint(code: str, name: str, boilerplate: list[int] | None = None) -> Any:
    from copydetect import CodeFingerprint

    return CodeFingerprint(f"{name}.py", K, WINDOW, boilerplate=boilerplate,
                           fp=io.StringIO(code), language="python")


def _lines(code: str, slices: Any) -> tuple[str, ...]:
    """The first lines of each copied slice (``slices``: copydetect's 2xN starts/ends)."""
    out: list[str] = []
    for start, end in zip(slices[0], slices[1], strict=True):
        text = code[int(start):int(end)].strip()
        out += [ln for ln in text.splitlines() if ln.strip()][:6]
    return tuple(out[:12])


def find_similar(root: Path, assignment: str, threshold: float = 0.5) -> list[Match]:
    """Pairs (student ~ student, student ~ ``course/<module>.py``) sharing at least
    ``threshold`` of one side's code, most similar first."""
    from copydetect import compare_files

    import course

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    stub = _fingerprint(answer_code(root / "release" / assignment), "release")
    boiler = list(stub.hashes)
    codes = {p.parent.name: answer_code(p) for p in
             sorted((root / "submitted").glob(f"*/{assignment}")) if p.is_dir()}
    prints = {s: _fingerprint(c, s, boiler) for s, c in codes.items() if c.strip()}
    package = Path(course.__file__).parent
    refs = {f"course/{p.relative_to(package)}": _fingerprint(p.read_text(), p.stem, boiler)
            for p in sorted(package.rglob("*.py")) if "grader" not in p.parts}
    found = []
    pairs = [*combinations(prints, 2), *((s, r) for s in prints for r in refs)]
    for left, right in pairs:
        a, b = prints[left], prints.get(right) or refs[right]
        _, sims, slices = compare_files(a, b)
        share = (float(sims[0]), float(sims[1]))
        if max(share) >= threshold if right in prints else share[0] >= threshold:
            found.append(Match(left, right, share, _lines(codes[left], slices[0])))
    return sorted(found, key=lambda m: -max(m.share))
