"""A class on JupyterHub, end to end: deploy/jupyterhub_config.py with real Unix accounts.

On 127.0.0.1 and free ports, as root: JupyterHub (PAM authenticator, LocalProcessSpawner, so
every server runs as its own account and the file permissions are the real ones; Debian's
configurable-http-proxy), the formgrader service as the grader account, an instructor and two
students (tests/hub.py). Then only through HTTP, as each user: the instructor releases ps1
through the formgrader service, both students fetch it, Ann answers it right and Bob wrong
(the bug zoo's ``max_without_plus_one``), both submit; the instructor collects, grades with
``course grade`` (sandboxed: it fails rather than pass with ``--unsafe``), makes and releases
the feedback; each student fetches their own feedback only, and Bob cannot read Ann's work,
the gradebook or ``source/``. Everything is torn down also when a step fails.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import stat
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hub import COURSE_ID, REPO, Deployment, User, http, missing, run_code, run_command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ZOO_WRONG = REPO / "tests/zoo/ps1/max_without_plus_one.py"


@pytest.fixture(scope="module")
def hub() -> Iterator[Deployment]:
    from course.grader import sandbox_problem

    why = missing()
    if why is not None:
        pytest.fail(why, pytrace=False)
    problem = sandbox_problem()
    assert problem is None, f"the grading sandbox cannot run on this machine: {problem}"
    d = Deployment()
    try:
        d.provision()
        d.start()
        for u in (d.instructor, d.ann, d.bob):
            r = d.login(u)
            assert r.status == 201, f"PAM login of {u.name}: {r}\n{d.log()}"
        for u in (d.instructor, d.ann, d.bob):
            d.spawn(u)
        d.wait_service(d.instructor.token)
        yield d
    finally:
        d.close()
    assert not d.base.exists(), f"{d.base} left behind"


def server(hub: Deployment, user: User) -> str:
    return hub.wait_ready(user)


def action(hub: Deployment, user: User, what: str) -> dict[str, Any]:
    """nbgrader's Assignment List handler (what the student's Assignments tab calls)."""
    r = http("POST", f"{server(hub, user)}/assignments/{what}", user.token,
             form={"course_id": COURSE_ID, "assignment_id": "ps1"}, timeout=120)
    assert r.status == 200, f"{what} as {user.name}: {r}"
    got = r.json()
    assert got.get("success"), f"{what} as {user.name}: {got}"
    return dict(got)


def status_of(listing: dict[str, Any]) -> set[str]:
    return {a["status"] for a in listing["value"] if a["assignment_id"] == "ps1"}


def instructor_runs(hub: Deployment, *argv: str) -> str:
    """``argv`` in the course root, by a kernel of the formgrader service (the grader
    account), reached with the instructor's token."""
    rc, out = run_command(hub.service_url, hub.instructor.token, list(argv),
                          str(hub.course), timeout=300)
    assert rc == 0, f"{' '.join(argv)} exited {rc}:\n{out[-4000:]}"
    return out


def auto_points(nb: nbformat.NotebookNode) -> float:
    return sum(float(c.metadata["nbgrader"]["points"]) for c in nb.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))


def page_config(hub: Deployment, user: User) -> dict[str, Any]:
    r = http("GET", f"{server(hub, user)}/lab", user.token)
    assert r.status == 200, r
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                  r.text, re.S)
    assert m, r.text[:2000]
    return dict(json.loads(m[1]))


def test_roles_profiles_and_access(hub: Deployment) -> None:
    assert hub.login(hub.ann, "not-her-password").status == 403  # PAM checks passwords
    # The service: the instructor reaches it, a student does not.
    assert http("GET", f"{hub.service_url}/formgrader", hub.instructor.token).status == 200
    for path in ("/api/status", "/formgrader", "/api/contents/source"):
        r = http("GET", f"{hub.service_url}{path}", hub.ann.token)
        assert r.status == 403, f"a student got {path} of the formgrader service: {r}"
    # Students: no instructor extension, in the page or on the server.
    disabled = page_config(hub, hub.ann)["disabledExtensions"]
    for ext in ("create-assignment", "formgrader", "course-list"):
        assert f"@jupyter/nbgrader:{ext}" in disabled, disabled
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert http("GET", f"{server(hub, hub.ann)}/formgrader", hub.ann.token).status == 404
    # The instructor's own server: assignments and the course list, grading in the service.
    disabled = page_config(hub, hub.instructor)["disabledExtensions"]
    assert "@jupyter/nbgrader:formgrader" in disabled
    assert "@jupyter/nbgrader:course-list" not in disabled
    r = http("GET", f"{server(hub, hub.instructor)}/formgrader/api/courses",
             hub.instructor.token)
    assert r.status == 404, r
    courses = http("GET", f"{server(hub, hub.instructor)}/formgraders",
                   hub.instructor.token)
    assert courses.status == 200 and COURSE_ID in courses.text, courses


def test_formgrader_frames_only_inside_its_service(hub: Deployment) -> None:
    """#1870: JupyterHub >= 4.1 forbids framing every server ('none'); the formgrader's lab
    tab is an iframe, so the service (and only it) allows its own URL prefix."""
    fg = http("GET", f"{hub.service_url}/formgrader", hub.instructor.token)
    assert fg.status == 200 and "Manage Assignments" in fg.text, fg
    policy = fg.headers.get("Content-Security-Policy", "")
    assert policy == f"frame-ancestors {hub.url}/services/{COURSE_ID}/", policy
    student = http("GET", f"{server(hub, hub.ann)}/lab", hub.ann.token)
    assert student.headers.get("Content-Security-Policy") == "frame-ancestors 'none'"


@pytest.fixture(scope="module")
def graded(hub: Deployment) -> dict[str, float]:
    """ps1 released by the instructor, fetched, answered (Ann right, Bob wrong) and submitted
    by the students, collected, graded (sandboxed), its feedback made and released: each
    student's score."""
    t0 = time.monotonic()
    instructor_runs(hub, "nbgrader", "release_assignment", "ps1")
    assert (hub.exchange / COURSE_ID / "outbound/ps1/ps1.ipynb").is_file()

    source = nbformat.read(REPO / "source/ps1/ps1.ipynb", as_version=4)
    from course.grader._synth import build_submission, load_snippet, solutions

    answers = {hub.ann.name: ("Ann", {}), hub.bob.name: ("Bob", load_snippet(ZOO_WRONG))}
    for u in (hub.ann, hub.bob):
        assert "fetched" in status_of(action(hub, u, "fetch"))
        base = server(hub, u)
        r = http("GET", f"{base}/api/contents/ps1/ps1.ipynb?type=notebook", u.token)
        assert r.status == 200, r
        fetched = nbformat.from_dict(r.json()["content"])
        name, wrong = answers[u.name]
        sub = build_submission(fetched, solutions(source), wrong, name=name)
        r = http("PUT", f"{base}/api/contents/ps1/ps1.ipynb", u.token,
                 body={"type": "notebook", "format": "json", "content": sub})
        assert r.status == 200, r
        assert "submitted" in status_of(action(hub, u, "submit"))

    instructor_runs(hub, "nbgrader", "collect", "ps1")
    for u in (hub.ann, hub.bob):
        assert (hub.course / "submitted" / u.name / "ps1/ps1.ipynb").is_file()
    out = instructor_runs(hub, "course", "grade", "ps1", "--jobs", "2", "--pool",
                          "processes", "-q")
    assert "2 submission(s), sandboxed" in out and "NOT SANDBOXED" not in out, out
    grades = {row["student_id"]: row for row in csv.DictReader(io.StringIO(
        (hub.course / "grades.csv").read_text()))}
    full = auto_points(source)
    ann, bob = float(grades[hub.ann.name]["score"]), float(grades[hub.bob.name]["score"])
    assert ann == full and 0 < bob < full, (ann, bob, full)
    instructor_runs(hub, "course", "feedback", "ps1")
    instructor_runs(hub, "nbgrader", "release_feedback", "ps1")
    print(f"\nps1 released, submitted, graded, feedback released: {time.monotonic() - t0:.0f} s")
    return {"Ann": ann, "Bob": bob}


def test_each_student_fetches_their_own_feedback(hub: Deployment,
                                                 graded: dict[str, float]) -> None:
    for u, name, other in ((hub.ann, "Ann", "Bob"), (hub.bob, "Bob", "Ann")):
        action(hub, u, "fetch_feedback")
        base = server(hub, u)
        r = http("GET", f"{base}/api/contents/ps1/feedback", u.token)
        assert r.status == 200, r
        stamps = [e["path"] for e in r.json()["content"] if e["type"] == "directory"]
        assert len(stamps) == 1, stamps
        folder = f"{base}/api/contents/{urllib.parse.quote(stamps[0])}"
        r = http("GET", folder, u.token)
        files = sorted(e["name"] for e in r.json()["content"])
        assert files == ["ps1.html"], files  # their one notebook's feedback, nothing else
        page = http("GET", f"{folder}/ps1.html?format=text&type=file",
                    u.token).json()["content"]
        assert f"(Score: {round(graded[name], 2)} / " in page, (name, graded)
        text = html.unescape(re.sub(r"<[^>]+>", "", page))  # the highlighted code as text
        assert f'NAME = "{name}"' in text and f'NAME = "{other}"' not in text


def test_student_cannot_read_others_work_gradebook_or_source(
        hub: Deployment, graded: dict[str, float]) -> None:
    """Bob, in his own kernel (his Unix account), tries the paths where Ann's work, the
    grades and the hidden tests lie. They exist (checked as root first); every one is
    refused by the file system."""
    ex = hub.exchange / COURSE_ID
    targets = {
        "Ann's home": ("listdir", hub.ann.home),
        "Ann's notebook": ("open", hub.ann.home / "ps1/ps1.ipynb"),
        "the exchange's submissions": ("listdir", ex / "inbound"),
        "the exchange's feedback": ("listdir", ex / "feedback"),
        "the course root": ("listdir", hub.course),
        "the gradebook": ("open", hub.course / "gradebook.db"),
        "source/": ("listdir", hub.course / "source"),
        "the hidden tests": ("open", hub.course / "source/ps1/ps1.ipynb"),
        "Ann's collected submission": ("open", hub.course / f"submitted/{hub.ann.name}"
                                                          "/ps1/ps1.ipynb"),
        "Ann's feedback in the course": ("open", hub.course / f"feedback/{hub.ann.name}"
                                                            "/ps1/ps1.html"),
    }
    for what, (_, path) in targets.items():
        assert path.exists(), f"{what} ({path}) is missing"
    assert stat.S_IMODE((ex / "inbound").stat().st_mode) & 0o004 == 0
    code = ("import json, os\n"
            f"targets = {json.dumps({k: [op, str(p)] for k, (op, p) in targets.items()})}\n"
            "got = {}\n"
            "for what, (op, path) in targets.items():\n"
            "    try:\n"
            "        (os.listdir if op == 'listdir' else lambda p: open(p, 'rb').read(1))(path)\n"
            "        got[what] = 'READ'\n"
            "    except Exception as e:\n"
            "        got[what] = type(e).__name__\n"
            "print('@@' + json.dumps({'uid': os.getuid(), 'got': got}))\n")
    out = run_code(server(hub, hub.bob), hub.bob.token, code, timeout=120)
    line = next(ln for ln in out["stdout"].splitlines() if ln.startswith("@@"))
    report = json.loads(line[2:])
    assert report["uid"] == hub.bob.uid  # his server runs as his account
    assert report["got"] == dict.fromkeys(targets, "PermissionError"), report["got"]
    # ... while Ann reads her own (the same kind of check passes for the owner).
    mine = run_code(server(hub, hub.ann), hub.ann.token,
                    f"print(len(open({str(hub.ann.home / 'ps1/ps1.ipynb')!r}).read()) > 0)")
    assert mine["stdout"].strip() == "True", mine
    assert Path(hub.ann.home).stat().st_uid == hub.ann.uid


@pytest.mark.browser
def test_formgrader_tab_renders_in_the_services_lab(hub: Deployment) -> None:
    """The #1870 workaround in a real browser (headless Debian chromium): logged in as the
    instructor (the hub's login form, PAM), the Formgrader tab of the service's JupyterLab
    shows the formgrader; the same formgrader framed by a page of the instructor's own
    server (``/user/<name>/``, any other server's prefix) is refused by the browser."""
    from browser import SHOTS, chromium
    from playwright.sync_api import sync_playwright

    exe = chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    # A page of the instructor's own server that frames the formgrader service.
    own = server(hub, hub.instructor)
    frame_page = (f'<html><body><iframe id="fg" src="/services/{COURSE_ID}/formgrader" '
                  'width="900" height="600"></iframe></body></html>')
    r = http("PUT", f"{own}/api/contents/frame.html", hub.instructor.token,
             body={"type": "file", "format": "text", "content": frame_page})
    assert r.status in (200, 201), r
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            ctx = b.new_context(viewport={"width": 1400, "height": 900})
            ctx.set_default_timeout(90_000)
            page = ctx.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(f"{hub.url}/hub/login?next=/services/{COURSE_ID}/lab")
            page.fill("input[name=username]", hub.instructor.name)
            page.fill("input[name=password]", hub.instructor.password)
            page.click("#login_submit")
            page.wait_for_url(f"**/services/{COURSE_ID}/lab**")
            page.get_by_text("Nbgrader", exact=True).first.click()
            menu = page.locator("#jp-mainmenu-nbgrader")
            menu.get_by_text("Formgrader", exact=True).click()
            frame = page.frame_locator(f"iframe[src*='/services/{COURSE_ID}/formgrader']")
            frame.get_by_text("Manage Assignments").first.wait_for()
            frame.get_by_text("ps1", exact=True).first.wait_for()
            page.screenshot(path=str(SHOTS / "hub-formgrader-tab.png"))
            assert not [m for m in console if "frame-ancestors" in m], console

            page.goto(f"{own}/files/frame.html")
            page.wait_for_function("() => document.getElementById('fg') !== null")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and \
                    not any("frame-ancestors" in m for m in console):
                page.wait_for_timeout(200)
            page.screenshot(path=str(SHOTS / "hub-formgrader-framed-elsewhere.png"))
            refused = [m for m in console if "frame-ancestors" in m]
            assert refused, f"a /user/ page framed the formgrader; console: {console}"
            inner = page.frame_locator("#fg").get_by_text("Manage Assignments")
            assert inner.count() == 0
        finally:
            b.close()
    finally:
        pw.stop()
