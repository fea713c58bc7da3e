"""nbgrader configuration for the course (instructor side; see docs/instructors.md).

Layout, all relative to this file's folder (the course root):

    source/<assignment>/<notebook>.ipynb   instructor versions: solutions + hidden tests
    release/<assignment>/<notebook>.ipynb  what students get: `course release` regenerates it
    submitted/<student>/<assignment>/      collected submissions (not committed)
    autograded/, feedback/, gradebook.db   grading output (not committed)

A temporary course (the pipeline tests) loads this file with ``load_subconfig`` and then
overrides ``CourseDirectory.root`` and the timeout.
"""

import contextlib
import os

c = get_config()  # noqa: F821 -- provided by traitlets when it runs this file

c.CourseDirectory.course_id = "csc36000-distributed"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# The exchange (release / fetch / submit / feedback between accounts) inside the course tree,
# for a single machine: nbgrader requires it to exist, so it is made here (git-ignored).
# A multi-user server (deploy/, docs/deploy.md) sets COURSE_EXCHANGE to its shared folder
# instead, made by its administrator with the permissions nbgrader requires.
if os.environ.get("COURSE_EXCHANGE"):
    c.Exchange.root = os.environ["COURSE_EXCHANGE"]
else:
    c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
    with contextlib.suppress(OSError):  # a read-only checkout: nbgrader says so when used
        os.makedirs(c.Exchange.root, exist_ok=True)
# source/cases.py (the hidden tests' inputs) is never an assignment file.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "cases.py"]

# ----- optional parts (generating release/) ------------------------------------------
# An optional part is left out of release/ and of the gradebook (so it is neither set nor
# graded, and counts in no total) unless it is switched on in `include`. ps3's Part D
# (Lamport's 1978 algorithm and why it needs FIFO channels) is optional and off. To set it:
#     c.OptionalParts.include = {"ps3": ["D"]}
# then `course release ps3` (release/ then holds Part D) before releasing ps3 to students.
c.OptionalParts.optional = {"ps3": ["D"]}
c.OptionalParts.include = {}
# nbgrader 0.9.6's default list, with course.nbplugins.OptionalParts first.
c.GenerateAssignment.preprocessors = [
    "course.nbplugins.OptionalParts",
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# ----- executing notebooks (autograde, validate) --------------------------------------
# Per-cell limit. A JAX cell that jit-compiles a sharded computation can take a minute or
# more on a laptop CPU, so leave room; an infinite loop still ends after this many seconds
# (the kernel is interrupted and the cell scores 0).
c.Execute.timeout = 240
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
# Autograde with course.nbplugins.GuardedExecute instead of nbgrader's Execute: every kernel
# runs in the sandbox (course.grader: bubblewrap namespaces + cgroup limits, below), and a
# submission that kills or hangs its kernel (os._exit, out of memory, ignoring the interrupt)
# is still graded — the cells that ran keep their points, the rest score 0 with a message
# naming the cell — instead of aborting that submission's grading. Each notebook's run is
# recorded grader-side (.grading/runs/).
# Verdicts are decided outside the student's kernel (the grading protocol, see
# docs/instructors.md): GuardedExecute gives every test cell this run's nonce, the test cells
# only report their results, and course.nbplugins.Judge compares them with expected/<a>.json
# (written by `course expected --write`, never seen by a kernel) and writes each verdict into
# its cell before nbgrader scores it. The rest of the list is nbgrader 0.9.6's default.
c.Autograde.autograde_preprocessors = [
    "course.nbplugins.GuardedExecute",
    "course.nbplugins.Judge",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# ----- the sandbox (course.grader.SandboxKernelManager) --------------------------------
# Per kernel, all its processes together: memory and processes+threads by cgroup (these also
# bind root, which RLIMIT_NPROC does not); per process: CPU seconds, largest file written;
# /tmp and $HOME are tmpfs of tmp_mb each. Inside the box the kernel sees a read-only system,
# Python, virtualenv and course package, and a private scratch copy of its own submission;
# no network (not even loopback to the host), no other process. `course grade` refuses to run
# where this sandbox cannot be built (`--unsafe` overrides, for trusted code only).
c.SandboxKernelManager.memory_mb = 2048
c.SandboxKernelManager.processes = 256
c.SandboxKernelManager.cpu_seconds = 1800
c.SandboxKernelManager.file_mb = 256
c.SandboxKernelManager.tmp_mb = 512
# The library's reference answers for an assignment's graded parts are absent from its
# grading kernels: the box gets a copy of the course package without their code
# (course.grader.withheld_package), so no cell can capture, call or copy them.
_LAMPORT = ["course._clocks:LamportClock", "course._clocks:lamport_timestamps"]
_ORDER = ["course._clocks:VectorClock", "course._clocks:vector_timestamps",
          "course._order:HappensBefore", "course._order:happens_before",
          "course._order:concurrent", "course._order:total_order"]
_WALK = [f"course.jaxtools._workloads:{n}" for n in (
    "walk_pmap", "make_walk_pmap", "walk_shard_map", "make_walk_shard_map", "walk_reference",
    "_walk_block", "_reference_total")] + [
    "course.jaxtools._devices:shard_batch", "course.jaxtools._devices:unshard_batch"]
_MUTEX = ["course.mutex._ricart_agrawala:RicartAgrawala"]
c.GuardedExecute.withhold = {"ps1": _LAMPORT, "ps2": _ORDER, "ps3": _MUTEX, "ps4": _WALK}
# Outputs kept per notebook (a print flood beyond this is dropped, with one line saying so).
c.GuardedExecute.max_output_bytes = 2_000_000

# Output limits (per cell) so a print loop can't produce megabytes of feedback.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_traceback = 60

# ----- sanitizing submissions ---------------------------------------------------------
# A student who deletes a (read-only) test cell gets it back, and it is run and scored,
# instead of the cell silently disappearing from the grade.
c.OverwriteCells.add_missing_cells = True
# nbgrader 0.9.6's sanitizers, with two repairs (course.nbplugins): a copy-pasted test cell
# (duplicated grade id) no longer makes the whole notebook fail, and a deleted locked cell
# (e.g. the read-only set-up cell) is restored like a deleted test cell.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "course.nbplugins.UniqueIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "course.nbplugins.RestoreCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.RestoreCells.add_missing_cells = True

# ----- feedback -----------------------------------------------------------------------
# nbgrader's default feedback is the autograded notebook rendered to HTML, hidden tests and
# all (jupyter/nbgrader#917). course.nbplugins.HideHiddenTests removes the hidden test regions from
# the cells and every traceback frame that quotes one of their lines.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course.nbplugins.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# The course's feedback template (course/templates/course_feedback, on nbgrader's): math
# typeset by the packaged MathJax (jupyter-server-mathjax; no network), long lines wrapped,
# and every test cell named by its checking sentence in the summary.
from course.templates import configure_feedback  # noqa: E402

configure_feedback(c)
