"""The authoring path, proved: a throw-away assignment ``ps9`` added to a copy of the repository
by following ``docs/instructors.md`` ("Writing an assignment") step by step, then its tests.

Run it by hand after changing the guide, the declarations or the tests it names::

    .venv/bin/python tests/authoring.py            # the checks before grading (~30 s)
    .venv/bin/python tests/authoring.py --grade    # ... and ps9's pipeline contract (~1 min)
    .venv/bin/python tests/authoring.py --keep     # leave the copy in /tmp to look at

``tests/test_authoring.py`` runs the first form (marked slow). ps9 is never committed: the
copy holds the repository's git-tracked files (plus the uncommitted ones this checkout has),
in a fresh git repository of its own.

ps9: one part, one function (``double``), one visible and one hidden test, a zoo of two bugs
(one the visible test catches, one only the hidden test does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ID = "ps9"
#: What step 8 of the guide runs first (then the pipeline test, here only with --grade).
STEP_8 = ["tests/test_assignments.py", "tests/test_source_notebooks.py", "tests/test_release.py"]


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False,
              locked: bool = False, points: float | None = None) -> dict[str, object]:
    """The cell metadata nbgrader's Create Assignment sidebar writes."""
    meta: dict[str, object] = {"grade": grade, "grade_id": grade_id, "locked": locked,
                               "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _cell(kind: str, cell_id: str, source: str, **nbgrader: object) -> nbformat.NotebookNode:
    make = new_code_cell if kind == "code" else new_markdown_cell
    cell = make(textwrap.dedent(source).strip("\n"), id=cell_id)
    if nbgrader:
        cell.metadata["nbgrader"] = _nbgrader(cell_id, **nbgrader)  # type: ignore[arg-type]
        if nbgrader.get("locked"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return cell


def step_1_notebook() -> nbformat.NotebookNode:
    """Step 1 and 2: the instructor notebook, as the sidebar would save it."""
    cells = [
        _cell("markdown", "ps9-header", """
            Before you turn this problem in, make sure everything runs as expected. First,
            **restart the kernel** and then **run all cells**."""),
        _cell("code", "ps9-name", 'NAME = ""\nCOLLABORATORS = ""'),
        _cell("code", "ps9-setup", """
            # Set-up (read-only): run this cell first.
            %matplotlib inline
            import course.grading

            course.grading.setup_notebook()""", locked=True),
        _cell("markdown", "ps9-part-a", """
            ## Part A (3 points)

            Write `double(x)`, twice `x`."""),
        _cell("code", "double", '''
            def double(x: int) -> int:
                """Twice ``x``."""
                ### BEGIN SOLUTION
                return 2 * x
                ### END SOLUTION''', solution=True),
        _cell("code", "ps9-scratch", "# Try double here."),
        _cell("code", "ps9_double_small", """
            # Checks double on a small number.
            from course.grading import case

            case("two", double, 2, want=4, call="double(2)", label="a small number")
            print("double(2) is right.")""",
              grade=True, locked=True, points=1),
        _cell("code", "ps9_double_hidden", """
            # Checks double on negative and large numbers (hidden tests).
            from course.grading import case

            ### BEGIN HIDDEN TESTS
            for k, x in enumerate([-3, -1, 0, 10**12]):
                case(f"hidden-{k}", double, x, call=f"double({x})", label="another number")
            ### END HIDDEN TESTS""", grade=True, locked=True, points=2),
    ]
    for cell in cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["tags"] = ["raises-exception"]  # Run All goes on past a failure
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


ZOO = {
    "adds_one": '''\
        """double(x) = 2x + 1: the visible test catches it."""

        # %% double
        def double(x: int) -> int:
            return 2 * x + 1
        ''',
    "abs_value": '''\
        """double(x) = 2|x|: right on the visible test, wrong on negative numbers."""

        # %% double
        def double(x: int) -> int:
            return 2 * abs(x)
        ''',
}

DECLARATION = '''

# ----- ps9: a throw-away assignment (tests/authoring.py) ---------------------------------
PS9 = Assignment(
    id="ps9",
    parts=_points(A=3),
    points=_points(ps9_double_small=1, ps9_double_hidden=2),
    visible=frozenset({"ps9_double_small"}),
    manual=_points(),
    zoo=_zoo(adds_one={"ps9_double_small", "ps9_double_hidden"},
             abs_value={"ps9_double_hidden"}),
    pass_visible=frozenset({"abs_value"}),
    caught_by_validate=("adds_one", "double"),
)
ASSIGNMENTS = MappingProxyType({**ASSIGNMENTS, PS9.id: PS9})
'''

PIPELINE_TEST = '''\
import pytest
from assignments import PS9
from contract import Graded, PipelineContract, grade_batch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    return grade_batch(PS9, tmp_path_factory.mktemp(PS9.id))


class TestPipeline(PipelineContract):
    spec = PS9
'''


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"  # the guide: .venv/bin on PATH
    out.setdefault("PYTHONHASHSEED", "0")
    return out


def sh(root: Path, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(args, cwd=root, env=env(), text=True, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def copy_repo(dest: Path) -> Path:
    """The repository's files (tracked, and untracked but not ignored) in a fresh git
    repository ``dest`` with one commit: what a new instructor's clone looks like."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=ps9", "-c", "user.email=ps9@example.invalid",
                  "commit", "-q", "-m", "the course"]):
        sh(dest, "git", *args)
    return dest


def add_ps9(root: Path) -> None:
    """Steps 1-7 of "Writing an assignment", literally."""
    # 1-2. The notebook.
    (root / "source" / ID).mkdir(parents=True)
    nbformat.write(step_1_notebook(), root / "source" / ID / f"{ID}.ipynb")
    # 3. Expected values and the release.
    sh(root, str(BIN / "course"), "expected", "--write", ID)
    sh(root, str(BIN / "course"), "release", ID)
    # 4. The zoo.
    (root / "tests" / "zoo" / ID).mkdir(parents=True)
    for name, text in ZOO.items():
        (root / "tests" / "zoo" / ID / f"{name}.py").write_text(textwrap.dedent(text))
    # 5. The declaration.
    with (root / "tests" / "assignments.py").open("a", encoding="utf-8") as f:
        f.write(DECLARATION)
    # 6. The pipeline test.
    (root / "tests" / f"test_pipeline_{ID}.py").write_text(PIPELINE_TEST)
    # 7. Into git.
    sh(root, "git", "add", f"source/{ID}", f"release/{ID}", f"expected/{ID}.json",
       f"tests/zoo/{ID}", "tests/assignments.py", f"tests/test_pipeline_{ID}.py")


def step_8(root: Path, grade: bool) -> str:
    """Step 8: the checks the guide names, then (``grade``) the pipeline test; pytest's
    verbose output."""
    pytest = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"]
    out = sh(root, *pytest, "-m", "not slow", *STEP_8, timeout=600)
    if grade:
        out += sh(root, *pytest, f"tests/test_pipeline_{ID}.py", timeout=600)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grade", action="store_true", help="also run ps9's pipeline test")
    ap.add_argument("--keep", action="store_true", help="keep the copy")
    args = ap.parse_args(argv)
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="ps9-"))
    try:
        add_ps9(copy_repo(root))
        out = step_8(root, args.grade)
        print("\n".join(ln for ln in out.split("\n") if f"[{ID}]" in ln or "TestPipeline" in ln))
        print(out.strip().split("\n")[-1])
        print(f"ps9 added by the guide and its tests pass ({time.monotonic() - start:.0f} s)")
    finally:
        if args.keep:
            print(f"the copy: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
