"""A reusable nbgrader pipeline harness: a throw-away course directory, submissions built from
the release notebook with edited cells, one ``nbgrader autograde`` per assignment, and the
scores read back from the SQLite gradebook and the ``nbgrader export`` CSV.

For a new assignment (say ps4) a test module needs a few lines::

    from pipeline import Course, zoo

    @pytest.fixture(scope="module")
    def ps4(tmp_path_factory):
        course = Course.create(tmp_path_factory.mktemp("ps4"), ["ps4"], timeout=120)
        course.submit("solution", "ps4", course.submission("ps4"))          # the answers
        course.submit("untouched", "ps4", course.submission("ps4", fill=False))
        for name, cells in zoo("ps4").items():                               # tests/zoo/ps4/*.py
            course.submit(name, "ps4", course.submission("ps4", cells))
        course.autograde("ps4")          # ONE nbgrader call (or course.grade: the TA command)
        return course

    def test_solution(ps4):
        assert ps4.scores("ps4")["solution"] == ps4.max_scores("ps4")

A zoo file (``tests/zoo/<assignment>/<name>.py``) is Python split into sections by lines
``# %% <grade_id>``; each section replaces the answer cell with that nbgrader ``grade_id``
(the other answer cells get the instructor's solution). Text before the first marker (a
docstring saying what the bug is, imports for the linter) is not submitted.

nbgrader runs in subprocesses whose working directory is the temporary course, with a
``nbgrader_config.py`` that loads the repository's and then overrides the course root and the
cell timeout; ``PYTEST_CURRENT_TEST`` is removed from their environment so that kernels
behave as in a real grading run (ipykernel forwards file descriptor output only outside
pytest).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.notebooknode import NotebookNode

from course.grader._synth import (  # shared with `make demo`
    build_submission,
    load_snippet,
    solutions,
)

REPO = Path(__file__).resolve().parents[1]
ZOO = Path(__file__).resolve().parent / "zoo"
BIN = Path(sys.executable).parent
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
#: A folder that every xdist worker of one test session shares (tests/conftest.py sets it;
#: None elsewhere, e.g. in benchmarks/). Then each distinct :meth:`Course.create` (the same
#: assignments, timeout and extra config) runs ``nbgrader generate_assignment`` once per
#: session, in a template course there, and every other course with that key gets a copy of
#: its release/ and gradebook instead of generating them again (about 5 s of CPU each).
TEMPLATES: Path | None = None
_COPY_IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")


def nbgrader_env(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment for nbgrader (and so its kernels), with ``overrides``
    applied (a value of None removes the variable), e.g. ``{"JAX_NUM_CPU_DEVICES": "2"}``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader shells out to alembic
    env.setdefault("PYTHONHASHSEED", "0")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def region_lines(source: str, markers: Sequence[str]) -> list[str]:
    """The lines strictly between each pair of marker lines."""
    out, inside = [], False
    for line in source.split("\n"):
        if markers[0] in line:
            inside = True
        elif markers[1] in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def zoo(assignment: str, root: Path = ZOO) -> dict[str, dict[str, str]]:
    """Every zoo file of an assignment: {file stem: {grade_id: code}}."""
    return {p.stem: load_snippet(p) for p in sorted((root / assignment).glob("*.py"))}


def html_text(page: str) -> str:
    """Visible text of an HTML page (tags dropped, entities decoded), for 'does X leak'."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"(?s)<[^>]+>", "", page))


@dataclass
class Run:
    """One nbgrader command: its exit code, log and how long it took."""

    args: tuple[str, ...]
    returncode: int
    log: str
    seconds: float


class Course:
    """A temporary nbgrader course holding copies of some of the repository's assignments."""

    def __init__(self, root: Path, assignments: Sequence[str], *, timeout: int, repo: Path):
        self.root = root
        self.assignments = list(assignments)
        self.timeout = timeout
        self.repo = repo
        self.runs: list[Run] = []

    # ----- set-up -----------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, assignments: Sequence[str], *, timeout: int = 5,
               repo: Path = REPO, extra_config: str = "") -> Course:
        """Copy ``source/<a>`` for each assignment, write the config, and generate the
        assignments (which fills the gradebook with the source cells and writes release/;
        under pytest, copied from the session's template course: :data:`TEMPLATES`)."""
        return cls._create(root, assignments, timeout=timeout, repo=repo,
                           extra_config=extra_config,
                           templates=TEMPLATES if repo == REPO else None)

    @classmethod
    def _create(cls, root: Path, assignments: Sequence[str], *, timeout: int, repo: Path,
                extra_config: str, templates: Path | None) -> Course:
        root.mkdir(parents=True, exist_ok=True)
        for a in assignments:
            shutil.copytree(repo / "source" / a, root / "source" / a, ignore=_COPY_IGNORE)
            if (repo / "expected" / f"{a}.json").is_file():  # grader-side expected values
                (root / "expected").mkdir(exist_ok=True)
                shutil.copy2(repo / "expected" / f"{a}.json", root / "expected" / f"{a}.json")
        config = f"""\
            # Written by tests/pipeline.py: the repository's config, with this course's root
            # and a short per-cell timeout so that an infinite loop costs seconds, not minutes.
            load_subconfig({str(repo / 'nbgrader_config.py')!r})
            c = get_config()  # noqa: F821
            c.CourseDirectory.root = {str(root)!r}
            c.Execute.timeout = {int(timeout)}
            c.Execute.startup_timeout = 60
            """
        (root / "nbgrader_config.py").write_text(textwrap.dedent(config) + extra_config,
                                                 encoding="utf-8")
        course = cls(root, assignments, timeout=timeout, repo=repo)
        if templates is None:
            for a in assignments:
                course.nbgrader("generate_assignment", a, "--force")
        else:
            course._copy_generated(templates, extra_config)
        return course

    def _copy_generated(self, templates: Path, extra_config: str) -> None:
        """release/ and gradebook.db as ``generate_assignment`` makes them for this set-up,
        copied from the session's template course for it (generated under a lock by the
        first worker that asks). The key: the assignments, timeout and extra config, and
        the bytes of the repository's config and of each source/ file."""
        digest = hashlib.sha256(json.dumps([self.assignments, self.timeout, extra_config])
                                .encode())
        digest.update((self.repo / "nbgrader_config.py").read_bytes())
        for a in self.assignments:
            for f in sorted((self.root / "source" / a).rglob("*")):
                if f.is_file():
                    digest.update(f"\0{f.relative_to(self.root)}\0".encode())
                    digest.update(f.read_bytes())
        key = digest.hexdigest()[:20]
        template, done = templates / key, templates / f"{key}.done"
        templates.mkdir(parents=True, exist_ok=True)
        with open(templates / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            if not done.exists():
                shutil.rmtree(template, ignore_errors=True)  # a worker that died half-way
                type(self)._create(template, self.assignments, timeout=self.timeout,
                                   repo=self.repo, extra_config=extra_config, templates=None)
                done.touch()
        shutil.copytree(template / "release", self.root / "release", ignore=_COPY_IGNORE)
        for db in template.glob("gradebook.db*"):
            shutil.copy2(db, self.root / db.name)

    def nbgrader(self, *args: str, check: bool = True,
                 env: Mapping[str, str | None] | None = None) -> Run:
        start = time.monotonic()
        proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=self.root,
                              env=nbgrader_env(env),
                              text=True, capture_output=True, stdin=subprocess.DEVNULL)
        run = Run(args, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)
        self.runs.append(run)
        if check and proc.returncode != 0:
            raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{run.log[-6000:]}")
        return run

    # ----- notebooks --------------------------------------------------------------------
    def notebook_ids(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.root / "source" / assignment).glob("*.ipynb"))

    def _read(self, folder: str, assignment: str, notebook: str | None) -> NotebookNode:
        nb_id = notebook or self.notebook_ids(assignment)[0]
        return nbformat.read(self.root / folder / assignment / f"{nb_id}.ipynb", as_version=4)

    def source_notebook(self, assignment: str, notebook: str | None = None) -> NotebookNode:
        return self._read("source", assignment, notebook)

    def release_notebook(self, assignment: str, notebook: str | None = None) -> NotebookNode:
        return self._read("release", assignment, notebook)

    def solutions(self, assignment: str, notebook: str | None = None) -> dict[str, str]:
        """The instructor's answers (code and written), markers removed: {grade_id: text}."""
        return solutions(self.source_notebook(assignment, notebook))

    def submission(self, assignment: str, cells: Mapping[str, str] | None = None, *,
                   fill: bool = True, delete: Iterable[str] = (), notebook: str | None = None,
                   name: str = "") -> NotebookNode:
        """The release notebook with answer cells replaced: by ``cells[grade_id]`` where
        given, else by the instructor's solution (``fill``; written answers too) or left as
        released. Cells whose grade_id is in ``delete`` are removed (as a student might)."""
        nb = self.release_notebook(assignment, notebook)
        answers = self.solutions(assignment, notebook) if fill else {}
        return build_submission(nb, answers, cells, delete=delete, name=name)

    def submit(self, student: str, assignment: str, nb: NotebookNode,
               notebook: str | None = None) -> Path:
        nb_id = notebook or self.notebook_ids(assignment)[0]
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{nb_id}.ipynb"
        nbformat.write(nb, path)
        (folder / "timestamp.txt").write_text("2025-10-06 12:00:00.000000 UTC",
                                              encoding="utf-8")
        return path

    def students(self, assignment: str) -> list[str]:
        return sorted(p.parent.name for p in (self.root / "submitted").glob(f"*/{assignment}"))

    # ----- grading ----------------------------------------------------------------------
    def autograde(self, assignment: str, env: Mapping[str, str | None] | None = None) -> Run:
        """Autograde every submission of ``assignment`` in ONE nbgrader call (``env``: see
        :func:`nbgrader_env`)."""
        return self.nbgrader("autograde", assignment, "--force", check=False, env=env)

    def grade(self, assignment: str, env: Mapping[str, str | None] | None = None) -> Run:
        """``course grade <assignment>``: ONE ``nbgrader autograde`` of the whole batch, the
        export to grades.csv and the TA report (its output is ``Run.log``; nbgrader's own log
        is :meth:`autograde_log`)."""
        start = time.monotonic()
        args = ("-m", "course.cli", "--root", str(self.root), "grade", assignment)
        proc = subprocess.run([sys.executable, *args], cwd=self.root, env=nbgrader_env(env),
                              text=True, capture_output=True, stdin=subprocess.DEVNULL)
        run = Run(args, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)
        self.runs.append(run)
        return run

    def autograde_log(self, assignment: str) -> str:
        """nbgrader's log of the last ``course grade`` run."""
        return (self.root / f"autograde-{assignment}.log").read_text(encoding="utf-8")

    def report(self, assignment: str) -> dict[str, object]:
        from course.cli import batch_report

        return batch_report(self.root, assignment)  # type: ignore[return-value]

    def scores(self, assignment: str) -> dict[str, dict[str, float]]:
        """{student: {auto-graded cell: score}} from the gradebook."""
        return {s: r.scores for s, r in self.report(assignment).items()}  # type: ignore[attr-defined]

    def max_scores(self, assignment: str) -> dict[str, float]:
        """{auto-graded cell: points} from the gradebook's source cells."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            out = {}
            for nb in gb.find_assignment(assignment).notebooks:
                for cell in nb.grade_cells:
                    if cell.cell_type == "code":
                        out[cell.name] = float(cell.max_score)
            return out

    def export(self) -> dict[tuple[str, str], dict[str, str]]:
        """``nbgrader export`` CSV rows keyed by (student, assignment)."""
        path = self.root / "grades.csv"
        self.nbgrader("export", "--to", str(path))
        with path.open(newline="", encoding="utf-8") as f:
            return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}

    def submitted(self, student: str, assignment: str,
                  notebook: str | None = None) -> NotebookNode:
        return self._read(f"submitted/{student}", assignment, notebook)

    def autograded(self, student: str, assignment: str,
                   notebook: str | None = None) -> NotebookNode:
        return self._read(f"autograded/{student}", assignment, notebook)

    def feedback(self, assignment: str) -> dict[str, str]:
        """Run generate_feedback; {student: feedback HTML}."""
        self.nbgrader("generate_feedback", assignment, "--force")
        return {p.parent.parent.name: p.read_text(encoding="utf-8")
                for p in sorted((self.root / "feedback").glob(f"*/{assignment}/*.html"))}

    def start_validation(self, notebooks: Mapping[str, NotebookNode]) -> Validation:
        """Start nbgrader's Validator (what the student's *Validate* button runs) on each
        notebook, one after the other in ONE background process; ``.wait()`` gives
        {name: {"failed": [first line of each failing test cell]}}, {} for a notebook whose
        visible tests all pass."""
        paths = {}
        for name, nb in notebooks.items():
            folder = self.root / "validate" / name
            folder.mkdir(parents=True, exist_ok=True)
            paths[name] = str(folder / "notebook.ipynb")
            nbformat.write(nb, paths[name])
        proc = subprocess.Popen([sys.executable, "-c", VALIDATE, json.dumps(paths)],
                                cwd=self.root / "validate", env=nbgrader_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        return Validation(proc)


VALIDATE = """\
import json, sys
from nbgrader.validator import Validator
out = {}
for name, path in json.loads(sys.argv[1]).items():
    result = Validator().validate(path)
    out[name] = {k: [x["source"].split("\\n")[0] for x in v] for k, v in result.items()}
print(json.dumps(out))
"""


class Validation:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def wait(self, timeout: float = 600) -> dict[str, dict[str, list[str]]]:
        stdout, stderr = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0 or not stdout.strip():
            raise AssertionError(f"Validator crashed:\n{stdout}{stderr[-4000:]}")
        return json.loads(stdout.strip().splitlines()[-1])


def visible_lines(notebooks: Iterable[NotebookNode]) -> set[str]:
    """Stripped lines of the notebooks outside hidden test regions."""
    out = set()
    for nb in notebooks:
        for cell in nb.cells:
            hidden = set(region_lines(cell.source, HIDDEN_MARKERS))
            out |= {ln.strip() for ln in cell.source.split("\n") if ln not in hidden}
    return out


def hidden_only_lines(source_nb: NotebookNode, *visible: NotebookNode,
                      min_len: int = 12) -> list[str]:
    """Lines of the hidden test regions of ``source_nb`` that appear nowhere else in it nor
    in the ``visible`` notebooks (the release, a submission), not even inside a longer line:
    if one of these shows up in something a student sees, the hidden tests leaked."""
    seen = visible_lines([source_nb, *visible])
    visible_text = "\n".join(seen)
    return _region_only(source_nb, HIDDEN_MARKERS, lambda s: s in visible_text, min_len)


def solution_only_lines(source_nb: NotebookNode, release_nb: NotebookNode,
                        min_len: int = 12) -> list[str]:
    """Lines of the solution regions that appear nowhere in the release notebook."""
    released = {ln.strip() for c in release_nb.cells for ln in c.source.split("\n")}
    return _region_only(source_nb, SOLUTION_MARKERS, released.__contains__, min_len)


def _region_only(source_nb: NotebookNode, markers: Sequence[str],
                 is_seen: Callable[[str], bool], min_len: int) -> list[str]:
    """Distinct stripped lines (>= ``min_len`` chars) of the marked regions not ``is_seen``."""
    out: list[str] = []
    for cell in source_nb.cells:
        for line in region_lines(cell.source, markers):
            s = line.strip()
            if len(s) >= min_len and not is_seen(s) and s not in out:
                out.append(s)
    return out


# ----- checks every assignment's pipeline test makes (tests/contract.py) -------------------
def error_names(nb: NotebookNode) -> set[str]:
    """The exception names in a notebook's error outputs."""
    return {o.ename for c in nb.cells for o in c.get("outputs", [])
            if o.output_type == "error"}


def check_export(course: Course, assignment: str, scores: Mapping[str, Mapping[str, float]],
                 max_score: float) -> dict[tuple[str, str], dict[str, str]]:
    """``nbgrader export`` agrees with the gradebook for every student; returns its rows."""
    rows = course.export()
    for student, cells in scores.items():
        row = rows[(student, assignment)]
        assert float(row["raw_score"]) == pytest.approx(sum(cells.values())), student
        assert float(row["max_score"]) == max_score, student
    return rows


def check_feedback_hides_tests(course: Course, assignment: str,
                               students: Iterable[str]) -> dict[str, str]:
    """Generate feedback; assert no page quotes a hidden-test line (one that the release and
    the student's own submission do not contain); return each page's visible text."""
    pages = course.feedback(assignment)
    assert set(pages) == set(students)
    source, release = course.source_notebook(assignment), course.release_notebook(assignment)
    assert hidden_only_lines(source, release)  # else the search below could find nothing
    texts = {}
    for student, page in pages.items():
        text = texts[student] = html_text(page)
        secret = hidden_only_lines(source, release, course.submitted(student, assignment))
        leaked = [line for line in secret if line in text]
        assert not leaked, (student, leaked[:3])
        assert "HIDDEN TESTS" not in text and "EXPECTED" not in text, student
    return texts


#: The text/plain of the picture the judge draws above a wrong verdict (course.grader._judge).
GRADER_PICTURE = "<the run that fails, drawn by the grader>"


def check_hidden_verdicts_give_nothing_away(course: Course, assignment: str,
                                            students: Iterable[str]) -> int:
    """In every autograded notebook, each hidden test cell holds only the judge's verdict (no
    output of the student's code), and a wrong verdict names no expected value of that
    cell's cases. Returns how many wrong hidden verdicts were looked at (so a caller can
    assert the check saw some)."""
    from course._records import decode

    spec = json.loads((course.root / "expected" / f"{assignment}.json").read_text())
    seen = 0
    for student in students:
        nb = course.autograded(student, assignment)
        cells = spec["notebooks"][course.notebook_ids(assignment)[0]]["cells"]
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid not in cells or not cells[gid]["hidden"]:
                continue
            outputs = list(cell.outputs)
            if len(outputs) == 2 and outputs[0].get("data", {}).get("text/plain") == GRADER_PICTURE:
                outputs = outputs[1:]  # the judge's picture of the failing run (ps3)
            assert len(outputs) == 1, (student, gid, [o.get("output_type") for o in outputs])
            out = outputs[0]
            if out.output_type == "stream":
                assert out.text.startswith("Judged by the grader: all"), (student, gid)
                continue
            seen += 1
            assert out.output_type == "error", (student, gid, out)
            text = out.evalue + "\n".join(out.traceback)
            assert "expected" not in text.lower().replace("expected values", ""), (
                student, gid, text[:500])
            for case in cells[gid]["cases"]:
                want = repr(decode(case["want"]))
                if len(want) >= 12:
                    assert want not in text, (student, gid, case["key"])
    return seen
