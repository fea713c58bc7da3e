"""The student's and the TA's JupyterLab, in a real browser (headless Debian chromium).

One `make lab` server per role (student: the default profile; instructor: ROLE=instructor),
one browser, one page per role reused from step to step. Every step leaves a screenshot in
tests.browser.SHOTS (printed below; `out/browser/` by default). Any JavaScript console error
or uncaught page error fails the step that caused it. Servers, kernels and the browser are
shut down in the fixtures' ``finally``, also when a step fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser import (
    REPO,
    SHOTS,
    Console,
    Lab,
    LabPage,
    chromium,
    dump,
    errors_of,
    running,
    src_hash,
    text_of,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

BIN = Path(sys.executable).parent
LECTURES = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
PS1 = "release/ps1/ps1.ipynb"

# ps1's Part B: a correct answer, and one that forgets the +1 on a receive.
RIGHT = '''def lamport_timestamps(trace: Trace) -> dict[str, int]:
    ts: dict[str, int] = {}
    for e in trace.causal_order():
        prev = trace.events_of(e.process)
        own = ts[prev[e.index - 1].name] if e.index > 0 else 0
        if e.kind == "receive":
            own = max(own, ts[trace.sends()[e.message].name])
        ts[e.name] = own + 1
    return ts
'''
WRONG = '''def lamport_timestamps(trace: Trace) -> dict[str, int]:
    ts: dict[str, int] = {}
    for e in trace.causal_order():
        ts[e.name] = e.index + 1  # counts only its own process's events
    return ts
'''


@pytest.fixture(scope="module")
def shots() -> Path:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    print(f"\nbrowser screenshots: {SHOTS}")
    return SHOTS


@pytest.fixture(scope="module")
def browser(shots: Path) -> Iterator[Any]:
    exe = chromium()  # fails, with the fix, when there is none
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-gpu",
                                     "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


def _page(browser: Any, lab: Lab, shots: Path) -> Iterator[tuple[LabPage, Console]]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # a fresh profile
    ctx.set_default_timeout(60_000)
    try:
        page = ctx.new_page()
        console = Console()
        console.attach(page)
        lp = LabPage(page, lab, shots)
        lp.open_lab()
        yield lp, console
    finally:
        ctx.close()


def no_js_errors(console: Console, lab: Lab, step: str) -> None:
    errors = console.take()
    assert not errors, f"{step}: JavaScript errors:\n" + "\n".join(errors) + \
        f"\nserver log:\n{lab.log(3000)}\nscreenshots: {SHOTS}"


# ----- the student ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def student_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("student")
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "release" / "ps1").mkdir(parents=True)
    shutil.copy(REPO / PS1, root / PS1)
    with running(Lab("student", root, tmp_path_factory.mktemp("student-home"))) as lab:
        yield lab


@pytest.fixture(scope="module")
def student(browser: Any, student_lab: Lab, shots: Path) -> Iterator[tuple[LabPage, Console]]:
    yield from _page(browser, student_lab, shots)


def test_student_profile_has_no_instructor_tools(student: tuple[LabPage, Console]) -> None:
    lp, console = student
    lp.shot("lab")
    for command in ("nbgrader:open-formgrader", "nbgrader:open-create-assignment",
                    "nbgrader:open-course-list"):
        assert not lp.has_command(command), f"the student's lab offers {command}"
    assert lp.has_command("nbgrader:open-assignment-list")
    assert lp.lab.get("/formgrader").status == 404  # the server extension is off too
    lp.page.get_by_text("Nbgrader", exact=True).first.click()
    menu = lp.page.locator("#jp-mainmenu-nbgrader")
    menu.wait_for()
    lp.shot("nbgrader-menu")
    items = menu.inner_text()
    assert "Assignment List" in items and "Formgrader" not in items, items
    lp.page.keyboard.press("Escape")
    no_js_errors(console, lp.lab, "the student's lab")


def _run_all(lp: LabPage, path: str, timeout_s: float) -> dict[str, Any]:
    lp.open(path)
    lp.command("notebook:run-all-cells", timeout_s)
    nb = lp.notebook()
    unrun = [i for i, c in enumerate(nb["cells"])
             if c["cell_type"] == "code" and c["source"] and c.get("execution_count") is None]
    assert not unrun, f"{path}: Run All did not reach cells {unrun}; screenshots: {SHOTS}"
    return nb


def _close(lp: LabPage) -> None:
    lp.page.evaluate("""async () => {
        const w = window.jupyterapp.shell.currentWidget;
        await w.sessionContext.shutdown();
        w.context.model.dirty = false;
        w.dispose();
    }""")


@pytest.mark.parametrize("name", LECTURES)
def test_lecture_notebook_runs_all_without_errors(student: tuple[LabPage, Console],
                                                  name: str) -> None:
    lp, console = student
    nb = _run_all(lp, f"notebooks/{name}", 240)
    lp.shot(f"{name[:2]}-run-all")
    bad = {i: [f"{o['ename']}: {o['evalue']}" for o in errors_of(c)]
           for i, c in enumerate(nb["cells"]) if errors_of(c)}
    assert not bad, f"{name}: error outputs {dump(bad)}; screenshots: {SHOTS}"
    no_js_errors(console, lp.lab, name)
    if not name.startswith("01"):
        _close(lp)


def test_explorer_picture_follows_event_and_mode(student: tuple[LabPage, Console]) -> None:
    lp, console = student
    name = next(n for n in LECTURES if n.startswith("01"))
    lp.open(f"notebooks/{name}")  # still open and run from the test above
    nb = lp.notebook()
    index = next(i for i, c in enumerate(nb["cells"]) if "explore_trace(" in "".join(c["source"])
                 and c["cell_type"] == "code")
    if nb["cells"][index].get("execution_count") is None:
        lp.run_cell(index)
    cell = lp.select_cell(index)
    img = cell.locator(".widget-output img, .jupyter-widgets-output-area img").first
    img.wait_for()
    before = src_hash(img)
    lp.shot("explorer-c-lamport")

    def changed(old: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = src_hash(img)
            if new != old:
                return new
            time.sleep(0.2)
        raise AssertionError(f"the explorer's picture did not change; screenshots: {SHOTS}")

    cell.locator(".widget-dropdown select").select_option(label="f")
    after_event = changed(before)
    lp.shot("explorer-f-lamport")
    cell.locator(".widget-toggle-button", has_text="vector").click()
    after_mode = changed(after_event)
    lp.shot("explorer-f-vector")
    assert len({before, after_event, after_mode}) == 3
    no_js_errors(console, lp.lab, "the explorer")
    _close(lp)


@pytest.fixture(scope="module")
def ps1(student: tuple[LabPage, Console]) -> dict[str, Any]:
    """release/ps1 after Run All, untouched."""
    lp, _ = student
    return _run_all(lp, PS1, 180)


def _index(nb: dict[str, Any], grade_id: str) -> int:
    return next(i for i, c in enumerate(nb["cells"])
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def test_ps1_run_all_fails_only_for_the_missing_answers(student: tuple[LabPage, Console],
                                                        ps1: dict[str, Any]) -> None:
    lp, console = student
    lp.shot("ps1-run-all")
    cells = ps1["cells"]
    tests = {i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade")
             and not c["metadata"]["nbgrader"].get("solution")}
    failing = {i for i, c in enumerate(cells) if errors_of(c)}
    assert failing, "an untouched release passed a test"
    assert failing <= tests, f"errors outside the test cells: {sorted(failing - tests)}"
    for i in failing:
        text = text_of(cells[i])
        assert "NotImplementedError" in text, f"cell {i} failed for another reason:\n{text}"
    # Run All went on past the failing tests: the Part C picture cell ran and says why it
    # cannot draw yet.
    picture = next(i for i, c in enumerate(cells)
                   if "".join(c["source"]).startswith("# Draw your own timestamps"))
    assert picture > max(failing)
    assert "Implement lamport_timestamps in Part B first" in text_of(cells[picture])
    no_js_errors(console, lp.lab, "ps1 Run All")


def test_ps1_answer_right_then_wrong(student: tuple[LabPage, Console],
                                     ps1: dict[str, Any]) -> None:
    lp, console = student
    answer, check = _index(ps1, "lamport_timestamps"), _index(ps1, "ps1_ts_lecture")
    picture = next(i for i, c in enumerate(ps1["cells"])
                   if "".join(c["source"]).startswith("# Draw your own timestamps"))

    lp.type_into(answer, RIGHT)
    assert not errors_of(lp.run_cell(answer))
    out = lp.run_cell(check)
    lp.shot("ps1-right-answer")
    assert not errors_of(out), text_of(out)
    assert "Right on the lecture's example" in text_of(out)

    lp.type_into(answer, WRONG)
    assert not errors_of(lp.run_cell(answer))
    out = lp.run_cell(check)
    lp.shot("ps1-wrong-answer")
    (err,) = errors_of(out)
    explanation = text_of(out)
    assert err["ename"] == "AssertionError", explanation
    assert "lamport_timestamps(trace)" in explanation and "TS(" in explanation, explanation
    # The student's picture is drawn whatever the tests say: their clock, violations marked.
    drawn = lp.run_cell(picture)
    lp.shot("ps1-picture-of-wrong-answer")
    assert not errors_of(drawn), text_of(drawn)
    assert any("image/png" in o.get("data", {}) for o in drawn["outputs"]), dump(drawn)
    no_js_errors(console, lp.lab, "ps1 answers")


def test_ps1_validate_button(student: tuple[LabPage, Console], ps1: dict[str, Any]) -> None:
    lp, console = student
    lp.save()
    button = lp.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar"
                             ).get_by_role("button", name="Validate")
    button.click()
    dialog = lp.page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    lp.page.wait_for_function(
        "() => !/validating/i.test(document.querySelector('.jp-Dialog').innerText)",
        timeout=180_000)
    lp.shot("ps1-validate")
    text = dialog.inner_text()
    # Part A is still unanswered (and Part B wrong): validation lists the failing tests.
    assert "failed" in text.lower() or "error" in text.lower(), text
    assert "NotImplementedError" in text or "AssertionError" in text, text
    dialog.get_by_role("button").last.click()
    no_js_errors(console, lp.lab, "Validate")


# ----- the TA ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ta_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course with every assignment, one ps1 submission graded and its feedback made."""
    from course.grader import sandbox_problem
    from course.grader._synth import build_submission, load_snippet, solutions

    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.Execute.timeout = 30\n", encoding="utf-8")
    shutil.copytree(REPO / "source", root / "source")
    shutil.copytree(REPO / "expected", root / "expected")
    release = nbformat.read(REPO / PS1, as_version=4)
    source = nbformat.read(REPO / "source/ps1/ps1.ipynb", as_version=4)
    wrong = load_snippet(REPO / "tests/zoo/ps1/max_without_plus_one.py")
    sub = build_submission(release, solutions(source), wrong, name="Ann")
    (root / "submitted/ann/ps1").mkdir(parents=True)
    nbformat.write(sub, root / "submitted/ann/ps1/ps1.ipynb")
    grade = [str(BIN / "course"), "grade", "ps1", "--jobs", "1", "--pool", "processes", "-q"]
    if sandbox_problem() is not None:
        grade.append("--unsafe")  # the course's own solution: trusted code
    for cmd in (grade, [str(BIN / "course"), "feedback", "ps1"]):
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, f"{cmd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (root / "feedback/ann/ps1/ps1.html").is_file()
    return root


@pytest.fixture(scope="module")
def ta_lab(ta_course: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running(Lab("instructor", ta_course, tmp_path_factory.mktemp("ta-home"))) as lab:
        yield lab


@pytest.fixture(scope="module")
def ta(browser: Any, ta_lab: Lab, shots: Path) -> Iterator[tuple[LabPage, Console]]:
    yield from _page(browser, ta_lab, shots)


def test_formgrader_lists_the_assignments(ta: tuple[LabPage, Console]) -> None:
    lp, console = ta
    for command in ("nbgrader:open-formgrader", "nbgrader:open-create-assignment"):
        assert lp.has_command(command), f"the instructor's lab lacks {command}"
    lp.page.goto(f"{lp.lab.url}/formgrader/manage_assignments?token={lp.lab.token}")
    table = lp.page.locator("#main-table")
    for a in ("ps1", "ps2", "ps3", "ps4"):
        table.get_by_text(a, exact=True).first.wait_for()
    lp.shot("formgrader")
    # The exchange is configured inside the course tree, and exists: no warning about it.
    assert lp.page.locator("#warning-exchange").count() == 0
    assert "does not exist" not in lp.page.inner_text("body")
    no_js_errors(console, lp.lab, "the formgrader")


def _typeset(page: Any) -> dict[str, Any]:
    page.wait_for_function(
        "() => window.MathJax && MathJax.Hub && MathJax.isReady"
        " && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0"
        " && document.querySelectorAll('.MathJax_MathML math, .MathJax, .MathJax_SVG').length > 0",
        timeout=60_000)
    return dict(page.evaluate("""() => ({
        typeset: document.querySelectorAll('.MathJax_MathML math, .MathJax, .MathJax_SVG').length,
        text: document.body.innerText,
        toc: document.querySelector('#toc').innerText,
        clipped: [...document.querySelectorAll('.output_area pre, .input_area pre')]
                 .filter(p => p.scrollWidth > p.clientWidth + 1).length,
        pres: document.querySelectorAll('.output_area pre').length,
    })"""))


def _check_feedback(page: Any, step: str) -> None:
    got = _typeset(page)
    assert got["typeset"] >= 2, got["typeset"]
    assert "$TS(e)" not in got["text"] and "\\max" not in got["text"], f"{step}: raw TeX"
    assert got["pres"] > 0 and got["clipped"] == 0, f"{step}: {got['clipped']} clipped lines"
    assert "Test cell" not in got["toc"], got["toc"]
    assert "Checks receive() as in the lecture's example" in got["toc"], got["toc"]


def test_feedback_page_typesets_math_offline(browser: Any, ta: tuple[LabPage, Console],
                                            ta_course: Path) -> None:
    lp, _ = ta
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        blocked: list[str] = []
        mathjax: list[str] = []

        def only_local(route: Any) -> None:
            url = route.request.url
            if url.startswith(("http://127.0.0.1:", "data:", "blob:", "file:")):
                if "MathJax.js" in url:
                    mathjax.append(url)
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        ctx.route("**/*", only_local)
        page = ctx.new_page()
        console = Console()
        console.attach(page)
        # As served (a student opening fetched feedback, a TA in the course folder) ...
        page.goto(f"{lp.lab.url}/files/feedback/ann/ps1/ps1.html?token={lp.lab.token}")
        _check_feedback(page, "served")
        page.screenshot(path=str(SHOTS / "instructor-90-feedback-served.png"), full_page=True)
        assert mathjax and all("/static/jupyter_server_mathjax/" in u for u in mathjax), mathjax
        # ... and opened from disk.
        page.goto((ta_course / "feedback/ann/ps1/ps1.html").as_uri())
        _check_feedback(page, "from disk")
        page.screenshot(path=str(SHOTS / "instructor-91-feedback-file.png"), full_page=True)
        assert not blocked, f"the feedback page asked the network for {blocked}"
        no_js_errors(console, lp.lab, "the feedback page")
    finally:
        ctx.close()
