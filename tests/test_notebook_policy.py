"""Lecture notebooks follow the output policy and import (never paste) library code."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course.nbtools import CHECK_TAG, apply_policy, policy_problems

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_lecture_notebooks():
    assert [p.name for p in LECTURES][:1] == ["01-time-and-order.ipynb"]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_output_policy_holds(path):
    nb = nbformat.read(path, as_version=4)
    assert policy_problems(nb, path.name) == []
    assert any(CHECK_TAG in c.metadata.get("tags", []) for c in nb.cells), \
        f"{path.name} compares no output at all"


def _library_names() -> set[str]:
    import course
    import course.jaxtools
    import course.mutex
    import course.sim

    return {n for m in (course, course.jaxtools, course.mutex, course.sim) for n in m.__all__}


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_no_library_code_pasted(path):
    """A notebook may define the small function under study (the lecture's f(x)), but no
    class, no long function, and nothing the library already provides."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "import course" in code or "from course" in code
    assert re.findall(r"^\s*class\s+\w+", code, flags=re.M) == []
    library = _library_names()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for m in re.finditer(r"^def (\w+)\(.*?(?=^\S|\Z)", cell.source + "\n",
                             flags=re.M | re.S):
            name, body = m.group(1), m.group(0).rstrip().splitlines()
            assert name not in library, f"{path.name} re-implements course's {name}"
            assert len(body) <= 4, f"{path.name} defines a {len(body)}-line {name}: " \
                                   f"put it in course/ and import it"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_ends_with_try_this(path):
    nb = nbformat.read(path, as_version=4)
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "Try this" in last.source
    prompts = re.findall(r"^\d+\. ", last.source, flags=re.M)
    assert 2 <= len(prompts) <= 4


def test_policy_tool_strips_and_reports():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
        nbformat.v4.new_code_cell("print(2)", execution_count=4,
                                  outputs=[nbformat.v4.new_output("stream", text="2\n")],
                                  metadata={"tags": [CHECK_TAG]}),
        nbformat.v4.new_code_cell("x", metadata={"tags": [CHECK_TAG]}),
    ])
    problems = policy_problems(nb, "nb")
    assert problems == ["nb cell 0: untagged cell has stored output "
                        "(run `python -m course.nbtools nb`)",
                        "nb cell 2: tagged nbval-check-output but has no stored output"]
    apply_policy(nb)
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert nb.cells[1].execution_count == 1 and nb.cells[1].outputs[0].text == "2\n"
