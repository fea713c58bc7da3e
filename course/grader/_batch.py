"""One grading run of one assignment: pre-check, autograde (sandboxed), retry, outcomes.

:func:`grade_batch` is what ``course grade`` does before it exports and reports:

1. **pre-check** every ``submitted/<student>/<assignment>/`` folder grader-side: a symlink
   anywhere in it is ``rejected`` (nbgrader would copy what it points to); a notebook that is
   not valid JSON/nbformat is ``unreadable notebook``; both are left out of the batch, so they
   cannot break it. A missing notebook is noted (the others are graded);
2. **register** the assignment in the gradebook if a fresh clone has never released it
   (``generate_assignment`` into a throw-away release folder: ``release/`` is not touched);
3. **autograde** the batch in one nbgrader call, every kernel in the sandbox;
4. **retry** alone each student whose notebooks left no run record (the grader failed or was
   killed mid-batch), once;
5. **classify** each submission (:func:`course.grader.classify`) and write the outcome table.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._judge import read_judge_reports
from ._outcomes import (
    Outcome,
    SubmissionOutcome,
    classify,
    ledger_dir,
    read_outcomes,
    read_runs,
    write_outcomes,
)

if TYPE_CHECKING:
    from ._pool import PoolStart

__all__ = ["BatchResult", "grade_batch", "precheck"]

Runner = Callable[..., tuple[int, str]]  # nbgrader(*args) -> (exit code, log)


@dataclass
class BatchResult:
    """What a grading run did: the outcome of every submission and nbgrader's log."""

    outcomes: dict[str, SubmissionOutcome] = field(default_factory=dict)
    log: str = ""
    returncode: int = 0
    #: (student, notebook, cell) -> (manual score, automatic score before, after): a manual
    #: score given before this regrade still overrides an automatic score that changed.
    stale: dict[tuple[str, str, str], tuple[float, float, float]] = field(default_factory=dict)
    #: Students not regraded: their submission is unchanged since it was last graded.
    unchanged: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for o in self.outcomes.values():
            counts[o.outcome.value] = counts.get(o.outcome.value, 0) + 1
        return f"BatchResult({counts}, returncode={self.returncode})"


def expected_notebooks(root: Path, assignment: str) -> list[str]:
    for folder in (root / "release" / assignment, root / "source" / assignment):
        names = sorted(p.stem for p in folder.glob("*.ipynb"))
        if names:
            return names
    raise SystemExit(f"No notebooks for {assignment!r} in release/ or source/ under {root}")


def precheck(root: Path, assignment: str, notebooks: Sequence[str]
             ) -> tuple[list[str], dict[str, tuple[Outcome, str]]]:
    """The students with a submission folder, and the problems found before grading:
    (outcome, detail) for rejected and unreadable submissions (left out of the batch) and
    missing notebooks (graded anyway)."""
    import nbformat

    students, problems = [], {}
    for sdir in sorted((root / "submitted").glob("*")):
        folder = sdir / assignment
        if not sdir.is_dir() or not (folder.is_dir() or folder.is_symlink()):
            continue
        students.append(sdir.name)
        links = [p for p in [folder, *folder.rglob("*")] if p.is_symlink()]
        if links:
            rel = ", ".join(str(p.relative_to(sdir)) for p in links[:3])
            problems[sdir.name] = (Outcome.REJECTED, f"symbolic link(s) in the submission: "
                                                     f"{rel}; not graded")
            continue
        missing = [nb for nb in notebooks if not (folder / f"{nb}.ipynb").is_file()]
        for nb in notebooks:
            path = folder / f"{nb}.ipynb"
            if not path.is_file():
                continue
            try:
                nbformat.validate(nbformat.read(path, as_version=4))
            except Exception as e:  # any reason nbformat refuses it
                problems[sdir.name] = (Outcome.UNREADABLE,
                                       f"{nb}.ipynb is not a valid notebook "
                                       f"({type(e).__name__}: {str(e)[:200]}); not graded")
                break
        else:
            if missing:
                others = sorted(p.name for p in folder.glob("*.ipynb")
                                if p.stem not in notebooks)
                found = f" (found instead: {', '.join(others)})" if others else ""
                problems[sdir.name] = (Outcome.NOTEBOOK_MISSING, "missing: " + ", ".join(
                    f"{m}.ipynb" for m in missing) + found)
    return students, problems


def gradebook_url(root: Path, explicit: str | None = None) -> str:
    """The gradebook every course command uses, first found of: ``explicit`` (``course
    --db-url``), ``$COURSE_DB_URL``, ``c.CourseDirectory.db_url`` in the course's
    ``nbgrader_config.py``, and nbgrader's default ``sqlite:///<root>/gradebook.db``. A server
    database (``postgresql://grader@/course101?host=/var/run/postgresql``: peer
    authentication over the socket, no password on a command line) lets several graders and
    workers write at once; see docs/deploy.md."""
    if explicit:
        return explicit
    if os.environ.get("COURSE_DB_URL"):
        return os.environ["COURSE_DB_URL"]
    if (root / "nbgrader_config.py").is_file():
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        url = cfg.CourseDirectory.get("db_url") if "CourseDirectory" in cfg else None
        if url:
            return str(url)
    return f"sqlite:///{root / 'gradebook.db'}"


def shared_url(db_url: str, jobs: int = 2) -> str:
    """``db_url`` for ``jobs`` processes writing at once: SQLite gets a 10-minute busy
    timeout (its one writer at a time waits); a server database is unchanged."""
    if db_url.startswith("sqlite:///") and jobs > 1 and "?" not in db_url:
        return db_url + "?timeout=600"
    return db_url


def db_option(db_url: str, jobs: int = 1) -> str:
    """The nbgrader flag that points a command at ``db_url`` (see :func:`shared_url`)."""
    return f"--CourseDirectory.db_url={shared_url(db_url, jobs)}"


def open_gradebook(db_url: str) -> Any:
    """nbgrader's ``Gradebook`` for ``db_url``. It shells out to ``alembic``, which lives beside
    this interpreter; that folder is put on ``PATH`` first (a TA may run ``.venv/bin/course``
    without activating the venv)."""
    from nbgrader.api import Gradebook

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    return Gradebook(db_url)


def in_gradebook(db_url: str, assignment: str) -> bool:
    from nbgrader.api import MissingEntry

    with open_gradebook(db_url) as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def submission_digest(folder: Path) -> str:
    """SHA-256 over the submission folder's file names and contents (what a rerun compares)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def anything_to_grade(root: Path, assignment: str, *, force: bool = False,
                      only: Sequence[str] = ()) -> bool:
    """A cheap guess before the pre-check: is there a submission :func:`grade_batch` would
    grade (new, changed since it was graded, not scored, or ``force``)? ``course grade``
    starts its worker pool early only then, so a rerun with nothing new stays instant."""
    previous = read_outcomes(root, assignment)
    for sdir in (root / "submitted").glob("*"):
        folder = sdir / assignment
        if not folder.is_dir() or (only and sdir.name not in only):
            continue
        if force or not _kept(previous.get(sdir.name), submission_digest(folder)):
            return True
    return False


def _kept(old: SubmissionOutcome | None, digest: str) -> bool:
    """A submission whose last outcome stands: scored, and its content unchanged since."""
    return old is not None and old.outcome.scored and old.digest == digest


def grade_batch(root: Path, assignment: str, nbgrader: Runner, *, db_url: str,
                sandbox: bool = True, only: Sequence[str] = (), jobs: int = 1,
                force: bool = False, quiet: bool = True, pool: str = "dask",
                scheduler: str | None = None,
                env: Mapping[str, str] | None = None,
                workers: PoolStart | None = None) -> BatchResult:
    """Grade every submission of ``assignment`` (or the students in ``only``); see the module
    docstring. ``nbgrader(*args)`` runs one nbgrader command in the course root. With
    ``pool="dask"`` (the default) every submission is one task on a dask cluster of ``jobs``
    workers (:mod:`._pool`; ``scheduler``: an existing one), the kernels' environment
    ``env``; with ``pool="processes"``, ``jobs`` nbgrader processes grade fixed chunks of
    students; ``workers``: a dask pool already starting (the caller closes it). Either way
    SQLite serializes the short write transactions (each waits up to
    10 minutes for the lock). Without ``force``, a
    submission whose content is unchanged since it was last graded keeps that outcome."""
    notebooks = expected_notebooks(root, assignment)
    result = BatchResult()
    if not in_gradebook(db_url, assignment):
        with tempfile.TemporaryDirectory(prefix="course-register-") as tmp:
            code, log = nbgrader("generate_assignment", assignment, "--force",
                                 f"--CourseDirectory.release_directory={tmp}",
                                 db_option(db_url))
            result.log += log
            if code != 0:
                raise SystemExit(f"Cannot register {assignment!r} in the gradebook:\n{log}")
    students, problems = precheck(root, assignment, notebooks)
    if only:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise SystemExit(f"No submission of {assignment!r} for: {', '.join(unknown)}")
        students = [s for s in students if s in only]
    present = {s: [nb for nb in notebooks
                   if (root / "submitted" / s / assignment / f"{nb}.ipynb").is_file()]
               for s in students}
    skipped = {s for s, (o, _) in problems.items()
               if o in (Outcome.REJECTED, Outcome.UNREADABLE)} | {
        s for s in students if not present[s]}
    digests = {s: submission_digest(root / "submitted" / s / assignment) for s in students}
    previous = read_outcomes(root, assignment)
    unchanged = set() if force else {
        s for s in students if _kept(previous.get(s), digests[s])
        and set(present[s]) <= set(read_runs(root, assignment, s))}
    todo = [s for s in students if s not in skipped and s not in unchanged]
    runs = ledger_dir(root, assignment)
    for s in todo:
        for old in [*(runs / s).glob("*.json"),
                    *(root / ".grading" / "judge" / assignment / s).glob("*.json")]:
            old.unlink()
    manual_before = _manual_scores(db_url, assignment, todo)
    common = ["--force", f"--GuardedExecute.ledger={runs.parent}",
              f"--GuardedExecute.sandbox={sandbox}", db_option(db_url, jobs)]
    everyone = sorted(p.name for p in (root / "submitted").glob("*") if p.is_dir())
    lock = threading.Lock()
    with _Progress(root, assignment, {s: present[s] for s in todo}, quiet) as progress:
        def run(chunk: list[str], label: str = "") -> None:
            exclude = ",".join(sorted(set(everyone) - set(chunk)))
            code, log = nbgrader("autograde", assignment, *common,
                                 *([f"--CourseDirectory.student_id_exclude={exclude}"]
                                   if exclude else []))
            with lock:
                result.log += label + log
                result.returncode = max(result.returncode, code)

        def missing() -> list[str]:
            return [s for s in todo if not set(present[s]) <= set(read_runs(root, assignment, s))]

        if pool == "dask" and todo:
            _grade_on_dask(root, assignment, todo, result, jobs=jobs, scheduler=scheduler,
                           sandbox=sandbox, db_url=db_url, env=env, again=missing,
                           workers=workers)
        else:
            chunks = [todo[i::jobs] for i in range(max(1, jobs)) if todo[i::jobs]]
            with ThreadPoolExecutor(max_workers=max(1, len(chunks))) as threads:
                list(threads.map(run, chunks))
        for s in missing():
            run([s], f"\n== retry of {s} alone ==\n")
        progress.update()
    for s in students:
        if s in unchanged:
            result.outcomes[s] = previous[s]
            continue
        result.outcomes[s] = _decide(root, assignment, s, present[s], problems.get(s))
        result.outcomes[s].digest = digests[s]
    result.stale = _stale(manual_before, _manual_scores(db_url, assignment, todo))
    for (s, nb, cell), (manual, _auto, new) in sorted(result.stale.items()):
        o = result.outcomes[s]
        o.detail = "; ".join(d for d in (o.detail, f"STALE MANUAL SCORE {nb}/{cell}: "
                                         f"{manual:g} overrides the new automatic {new:g}") if d)
    result.outcomes.update(_not_submitted(db_url, assignment, set(students), only))
    result.unchanged = sorted(unchanged)
    write_outcomes(root, assignment, {**previous, **result.outcomes} if only
                   else result.outcomes)
    return result


def _grade_on_dask(root: Path, assignment: str, todo: list[str], result: BatchResult, *,
                   jobs: int, scheduler: str | None, sandbox: bool, db_url: str,
                   env: Mapping[str, str] | None, again: Callable[[], list[str]],
                   workers: PoolStart | None = None) -> None:
    """Every submission in ``todo`` as one task of a :class:`._pool.GradingPool` (``workers``'
    when given, else one of its own); a second round for those still without a run record
    (e.g. their worker died)."""
    from ._pool import PoolStart

    overrides: dict[str, dict[str, Any]] = {
        "GuardedExecute": {"ledger": str(root / ".grading" / "runs"), "sandbox": sandbox}}
    overrides["CourseDirectory"] = {"db_url": shared_url(db_url)}
    base = dict(os.environ if env is None else env)
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"

    def done(student: str, ok: bool, log: str) -> None:
        result.log += f"\n== {student} ==\n{log}"
        result.returncode = max(result.returncode, 0 if ok else 1)

    own = workers is None
    start = PoolStart(jobs, scheduler) if workers is None else workers
    try:
        pool = start.get()
        pool.grade(root, base, overrides, assignment, todo, done)
        left = again()
        if left:
            result.log += f"\n== second round for {', '.join(left)} ==\n"
            pool.grade(root, base, overrides, assignment, left, done)
    finally:
        if own:
            start.close()


class _Progress:
    """A tqdm bar over the notebooks to grade, advanced by the run records as they appear
    (each nbgrader process writes them grader-side), with counts of graded / failed."""

    def __init__(self, root: Path, assignment: str, todo: dict[str, list[str]],
                 quiet: bool) -> None:
        self.root, self.assignment, self.todo = root, assignment, todo
        self.total = sum(len(v) for v in todo.values())
        self.quiet = quiet or self.total == 0
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"_Progress({self.assignment}, {self.total} notebooks)"

    def __enter__(self) -> _Progress:
        if not self.quiet:
            from tqdm import tqdm

            tty = sys.stderr.isatty()  # in a log (CI), one line every 10 s is plenty
            self.bar = tqdm(total=self.total, unit="nb", desc=f"grading {self.assignment}",
                            file=sys.stderr, mininterval=0.5 if tty else 10)
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def update(self) -> None:
        if self.quiet:
            return
        counts: dict[str, int] = {"graded": 0, "incomplete": 0, "failed": 0, "flagged": 0}
        done = 0
        for s, nbs in self.todo.items():
            for nb, run in read_runs(self.root, self.assignment, s).items():
                if nb not in nbs:
                    continue
                done += 1
                key = ("graded" if run.outcome is Outcome.GRADED else
                       "failed" if not run.outcome.scored else "incomplete")
                counts[key] += 1
            counts["flagged"] += any(r.flags for r in read_judge_reports(
                self.root, self.assignment, s))
        self.bar.n = done
        self.bar.set_postfix(counts, refresh=False)
        self.bar.refresh()

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.update()

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self._stop.set()
            self.thread.join()
            self.update()
            self.bar.close()


def _decide(root: Path, assignment: str, student: str, have: list[str],
            problem: tuple[Outcome, str] | None) -> SubmissionOutcome:
    """The outcome of one student with notebooks ``have`` and pre-check ``problem``."""
    if problem is not None and problem[0] is not Outcome.NOTEBOOK_MISSING:
        return classify(student, [], {}, problem)
    graded = classify(student, have, read_runs(root, assignment, student))
    graded.flags = [f"{r.notebook}: {f}" if len(have) > 1 else f
                    for r in read_judge_reports(root, assignment, student)
                    if r.notebook in have for f in r.flags]
    if problem is None:
        return graded
    detail = "; ".join(d for d in (problem[1], graded.detail) if d)
    return SubmissionOutcome(student, Outcome.NOTEBOOK_MISSING, detail,
                             sandboxed=graded.sandboxed, notebooks=graded.notebooks,
                             flags=graded.flags)


Scores = dict[tuple[str, str, str], tuple[float | None, float | None]]


def _manual_scores(db_url: str, assignment: str, students: Sequence[str]) -> Scores:
    """(student, notebook, cell) -> (manual, automatic) for cells with a manual score."""
    from nbgrader.api import MissingEntry

    out: Scores = {}
    with open_gradebook(db_url) as gb:
        for s in students:
            try:
                sub = gb.find_submission(assignment, s)
            except MissingEntry:
                continue
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.manual_score is not None:
                        out[(s, nb.name, g.name)] = (g.manual_score, g.auto_score)
    return out


def _stale(before: Scores, after: Scores) -> dict[tuple[str, str, str],
                                                   tuple[float, float, float]]:
    out = {}
    for key, (manual, auto) in before.items():
        if key in after and after[key][0] == manual and after[key][1] != auto:
            out[key] = (float(manual or 0), float(auto or 0), float(after[key][1] or 0))
    return out


def _not_submitted(db_url: str, assignment: str, submitted: set[str], only: Sequence[str]
                   ) -> dict[str, SubmissionOutcome]:
    """Students on the gradebook's roster with no submission folder."""
    if only:
        return {}
    with open_gradebook(db_url) as gb:
        roster = {s.id for s in gb.students}
    return {s: SubmissionOutcome(s, Outcome.NOT_SUBMITTED, "no submitted/ folder",
                                 sandboxed=False) for s in sorted(roster - submitted)}


def outcome_columns(outcomes: dict[str, SubmissionOutcome]) -> dict[str, dict[str, str]]:
    """The columns ``course grade`` adds to grades.csv, per student."""
    return {s: {"outcome": o.outcome.value, "outcome_detail": o.detail,
                "sandboxed": json.dumps(o.sandboxed), "flags": o.flagged}
            for s, o in outcomes.items()}
