"""The lecture notebooks' output policy, and the tool that enforces it.

Policy: a committed notebook keeps outputs only in cells tagged ``nbval-check-output``
(deterministic ones: seeded runs, counts, tables). CI runs ``pytest --nbval-lax`` which
compares exactly those cells and only executes the others (timings, figures, widgets).
Every other cell is stored without outputs and with ``execution_count`` None, so diffs stay
small and students open clean notebooks.

``python -m course.nbtools notebooks/*.ipynb`` re-executes notebooks in a fresh kernel and
rewrites them under this policy; ``--check`` only reports violations.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

CHECK_TAG = "nbval-check-output"

__all__ = ["CHECK_TAG", "apply_policy", "policy_problems", "refresh"]


def _checked(cell: Any) -> bool:
    return CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def apply_policy(nb: Any) -> Any:
    """Strip outputs of untagged cells, renumber executions; returns ``nb`` (modified)."""
    nb.metadata.pop("widgets", None)  # saved widget state: large and new ids every run
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if _checked(cell):
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def policy_problems(nb: Any, name: str = "notebook") -> list[str]:
    """Cells that break the policy, as readable messages (empty when it holds)."""
    problems = []
    if "widgets" in nb.metadata:
        problems.append(f"{name}: stores widget state in its metadata")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if _checked(cell) and not cell.outputs:
            problems.append(f"{name} cell {i}: tagged {CHECK_TAG} but has no stored output")
        if not _checked(cell) and (cell.outputs or cell.execution_count is not None):
            problems.append(f"{name} cell {i}: untagged cell has stored output "
                            f"(run `python -m course.nbtools {name}`)")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{name} cell {i}: stored output is an error")
    return problems


def refresh(path: str | Path, timeout: int = 600) -> list[str]:
    """Execute ``path`` in a fresh kernel (cwd = its folder), apply the policy, save it."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    apply_policy(nb)
    nbformat.write(nb, path)
    return policy_problems(nb, str(path))


def main(argv: list[str]) -> int:
    import nbformat

    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        print("usage: python -m course.nbtools [--check] NOTEBOOK...", file=sys.stderr)
        return 2
    problems: list[str] = []
    for p in paths:
        if check:
            problems += policy_problems(nbformat.read(p, as_version=4), p)
        else:
            print(f"refreshing {p}", flush=True)
            problems += refresh(p)
    for msg in problems:
        print(msg)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
