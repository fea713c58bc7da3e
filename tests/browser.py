"""Helpers for tests/test_browser.py: `make lab` on a random port and token, Debian's chromium
driven by Playwright, and a JupyterLab page that opens, runs and reads notebooks.

The server is started through the Makefile's own `lab` target (so the tests cover what a
student or TA types: ROLE, ARGS, --allow-root as root), in a session of its own so that
stopping it also ends its kernels. Chromium is the system's (Playwright's browser download
does not work on these machines): `make install` apt-gets it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
#: Where the screenshots of every step go (printed by the tests; `out/` is git-ignored).
SHOTS = Path(os.environ.get("COURSE_BROWSER_SHOTS", REPO / "out" / "browser"))


def chromium() -> str:
    """The system chromium's path; fails the test (never skips it) when there is none."""
    for cand in (os.environ.get("COURSE_CHROMIUM"), shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and os.access(cand, os.X_OK):
            return cand
    pytest.fail("Chromium is missing, so the browser tests cannot run. `make install` installs "
                "it as root (apt-get install -y chromium); or set COURSE_CHROMIUM to a "
                "chromium binary.", pytrace=False)


class Lab:
    """`make lab ROLE=<role>` serving ``root`` on 127.0.0.1, a random port and token."""

    def __init__(self, role: str, root: Path, home: Path, env: dict[str, str] | None = None):
        self.role, self.root, self.home = role, root, home
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / f"lab-{role}.log"
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "JUPYTER", "COV_")) and k != "MPLBACKEND"}
        # A fresh Jupyter user (config, data, runtime, settings, workspaces): nothing of the
        # machine's ~/.jupyter, and no workspace restored from an earlier run.
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
            env[var] = str(self.home / self.role / sub)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90) -> None:
        args = " ".join([
            "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False"])
        # -o: never reinstall mid-test (make test has just run the set-up).
        cmd = ["make", "-s", "-C", str(REPO), "-o", ".venv/.installed", "lab",
               f"ROLE={self.role}", f"COURSE={self.root}", f"ARGS={args}"]
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env=self._env(), start_new_session=True)
        wait_until_up(self.proc, lambda: self.get("/api/status").status == 200,
                      f"`make lab ROLE={self.role}`", self.log, timeout)

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            return urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as e:
            return e

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Shut the server down (its kernels with it); kill the whole session if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            req = urllib.request.Request(self.url + "/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {self.token}"})
            urllib.request.urlopen(req, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        # Kernels and make's children share the session: nothing of it may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(lab: Lab) -> Iterator[Lab]:
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


class Console:
    """Every JavaScript console error and uncaught page error of a page."""

    #: Browser noise that is not the course's code (and not a failure of it).
    IGNORED = ("favicon.ico",)

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            text = msg.text
            loc = msg.location.get("url", "") if isinstance(msg.location, dict) else ""
            if not any(s in text or s in loc for s in self.IGNORED):
                self.errors.append(f"console error: {text} ({loc})")

    def take(self) -> list[str]:
        out, self.errors = self.errors, []
        return out


class LabPage:
    """One JupyterLab tab, driven through the UI and the app's own commands."""

    def __init__(self, page: Any, lab: Lab, shots: Path):
        self.page, self.lab, self.shots = page, lab, shots
        self.step = 0

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.lab.role}-{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def open_lab(self) -> None:
        self.page.goto(f"{self.lab.url}/lab?token={self.lab.token}")
        self.page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        self.page.evaluate("async () => { await window.jupyterapp.started; "
                           "await window.jupyterapp.restored; }")

    def has_command(self, command: str) -> bool:
        return bool(self.page.evaluate("c => window.jupyterapp.commands.hasCommand(c)", command))

    def open(self, path: str) -> None:
        """Open the notebook at ``path`` (relative to the server's root) with a ready kernel."""
        self.page.evaluate(
            """async (path) => {
                const app = window.jupyterapp;
                const w = await app.commands.execute('docmanager:open',
                                                     {path, factory: 'Notebook'});
                await w.context.ready;
                await w.sessionContext.ready;
                app.shell.activateById(w.id);
                const k = w.sessionContext.session.kernel;
                const t0 = Date.now();
                while (k.status !== 'idle' && Date.now() - t0 < 60000) {
                    await new Promise(r => setTimeout(r, 200));
                }
                if (k.status !== 'idle') throw new Error('kernel not idle: ' + k.status);
            }""", path)

    def command(self, command: str, timeout_s: float = 240) -> None:
        """Run a JupyterLab command on the current notebook and wait until its kernel is done.

        A command's promise is not enough: Run All's settles at the first failing cell while
        the kernel goes on with the cells queued after it (those tagged raises-exception
        and the rest). Done = no cell running or queued, the kernel idle for 2 s.
        """
        self.page.evaluate(
            """async ([command, ms]) => {
                const app = window.jupyterapp;
                const w = app.shell.currentWidget;
                const run = app.commands.execute(command).catch(e => e);
                const t0 = Date.now();
                const busy = () => {
                    const k = w.sessionContext && w.sessionContext.session
                              && w.sessionContext.session.kernel;
                    return (k && k.status !== 'idle') || w.content.widgets.some(
                        c => c.model.type === 'code' && c.model.executionState === 'running');
                };
                await Promise.race([run, new Promise(r => setTimeout(r, 500))]);
                let quiet = 0;
                while (quiet < 2000) {
                    if (Date.now() - t0 > ms) throw new Error(command + ' still busy after '
                                                              + ms + ' ms');
                    await new Promise(r => setTimeout(r, 100));
                    quiet = busy() ? 0 : quiet + 100;
                }
            }""", [command, int(timeout_s * 1000)])

    def notebook(self) -> dict[str, Any]:
        """The current notebook as the front end holds it (nbformat JSON, outputs included)."""
        return dict(self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"))

    def select_cell(self, index: int) -> Any:
        self.page.evaluate("""(i) => {
            const nb = window.jupyterapp.shell.currentWidget.content;
            nb.activeCellIndex = i;
            nb.mode = 'command';
            nb.scrollToItem(i, 'center');
        }""", index)
        cell = self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"
                                 ).nth(index)
        cell.scroll_into_view_if_needed()
        return cell

    def type_into(self, index: int, code: str) -> None:
        """Replace cell ``index``'s code by typing it into its editor (as pasted text)."""
        cell = self.select_cell(index)
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)
        got = self.page.evaluate("(i) => window.jupyterapp.shell.currentWidget.content"
                                 ".widgets[i].model.sharedModel.getSource()", index)
        assert got.strip() == code.strip(), f"the editor holds:\n{got}"

    def run_cell(self, index: int, timeout_s: float = 120) -> dict[str, Any]:
        self.select_cell(index)
        self.command("notebook:run-cell", timeout_s)
        return dict(self.notebook()["cells"][index])

    def save(self) -> None:
        self.command("docmanager:save", 30)


def errors_of(cell: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def text_of(cell: dict[str, Any]) -> str:
    """Everything a cell's outputs say in text (streams, text/plain, tracebacks)."""
    parts: list[str] = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append("".join(o.get("text", "")))
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
            parts.extend(o.get("traceback", []))
        else:
            data = o.get("data", {})
            parts.append("".join(data.get("text/plain", "")))
    return "\n".join(parts)


def src_hash(img: Any) -> str:
    """SHA-256 of an <img>'s source (a PNG data URL for matplotlib in a widget)."""
    src = img.get_attribute("src") or ""
    return hashlib.sha256(src.encode()).hexdigest()


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)[:4000]
