"""Helpers for tests/test_hub.py: deploy/jupyterhub_config.py on 127.0.0.1 with real accounts.

:class:`Deployment` makes, in one temporary folder readable by those accounts: Unix users
(``useradd``; passwords by ``chpasswd``, checked by the hub's PAM authenticator), the grader
account's course root (a copy of this course, mode 0700), the shared exchange (1777) and the
hub's state; starts JupyterHub (as root, in a session of its own) on free ports; and tears all
of it down in :meth:`Deployment.close`, whatever state it is in: the hub (which stops the
proxy, the servers and the service), then anything still running as a test account or in the
service's cgroup, the proxy by its pid file, the accounts with their homes, the folder.

Users act only through HTTP, as a browser's JavaScript would: the hub's REST API (a token
from username + password), their servers' REST APIs (contents, nbgrader's Assignment List
handlers) and kernels (code run over the kernel's websocket, :func:`run_code`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from servers import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPLOY = REPO / "deploy"
COURSE_ID = "csc36000-distributed"


def sh(*argv: str, input: str | None = None) -> None:
    done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")


def missing() -> str | None:
    """Why this machine cannot run the deployment, with the fix; None when it can."""
    if os.geteuid() != 0:
        return ("the JupyterHub test creates Unix accounts and spawns servers as them: run it "
                "as root")
    for tool, pkg in (("configurable-http-proxy", "node-configurable-http-proxy"),
                      ("setfacl", "acl"), ("useradd", "passwd")):
        if shutil.which(tool) is None:
            return f"{tool} is missing: `make install` apt-gets it (apt-get install {pkg})"
    return None


class Response:
    def __init__(self, status: int, body: bytes, headers: Any):
        self.status, self.body, self.headers = status, body, headers

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.status} {self.text[:500]}>"


def http(method: str, url: str, token: str | None = None, body: Any = None,
         form: dict[str, str] | None = None, timeout: float = 60) -> Response:
    headers = {"Authorization": f"token {token}"} if token else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.read(), r.headers)
    except urllib.error.HTTPError as e:
        return Response(e.code, e.read(), e.headers)


class User:
    def __init__(self, name: str, role: str, home: Path):
        self.name, self.role, self.home = name, role, home
        self.password = secrets.token_urlsafe(12)
        self.token = ""

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid


class Deployment:
    """One course's hub: an instructor, two students, the grader account (see module doc)."""

    def __init__(self) -> None:
        tag = secrets.token_hex(2)
        # Outside pytest's tmp (mode 0700 for root): the accounts must reach their homes.
        self.base = Path(tempfile.mkdtemp(prefix=f"course-hub-{tag}-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.homes = self.base / "home"
        self.exchange = self.base / "exchange"
        self.state = self.base / "state"
        self.grader = User(f"hub{tag}-grader", "grader", self.homes / f"hub{tag}-grader")
        self.instructor = User(f"hub{tag}-ada", "instructor", self.homes / f"hub{tag}-ada")
        self.ann = User(f"hub{tag}-ann", "student", self.homes / f"hub{tag}-ann")
        self.bob = User(f"hub{tag}-bob", "student", self.homes / f"hub{tag}-bob")
        self.users = [self.grader, self.instructor, self.ann, self.bob]
        self.course = self.grader.home / "course"
        self.cgroup = f"course-{COURSE_ID}-{tag}"
        self.port, self.api_port, self.proxy_port, self.service_port = (
            free_port(), free_port(), free_port(), free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_url = f"{self.url}/services/{COURSE_ID}"
        self.log_path = self.base / "jupyterhub.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.created: list[User] = []
        self.acl: list[str] = []

    # ----- set-up -------------------------------------------------------------------------
    def provision(self) -> None:
        self.homes.mkdir(mode=0o755)
        self.state.mkdir(mode=0o700)
        self.exchange.mkdir()
        os.chmod(self.exchange, 0o1777)  # as an administrator makes /srv/nbgrader/exchange
        for u in self.users:
            sh("useradd", "--create-home", "--home-dir", str(u.home), "--shell", "/bin/bash",
               "--user-group", u.name)
            self.created.append(u)
            os.chmod(u.home, 0o700)
        sh("chpasswd", input="".join(f"{u.name}:{u.password}\n" for u in self.users))
        self._reach_python()
        self._course_root()

    def _reach_python(self) -> None:
        """The accounts must run this Python. Where it lives under a directory they cannot
        enter (e.g. root's pyenv in /root), grant each of them search (x, not read) on that
        directory by an ACL entry, removed in close() (the same for the virtualenv and this
        checkout); a real server installs Python and the virtualenv where every account can
        read them."""
        needed = (Path(os.path.realpath(sys.executable)), BIN / "python", REPO / "course")
        blocked = sorted({p for path in needed for p in path.parents
                          if not (p.stat().st_mode & stat.S_IXOTH)})
        for d in blocked:
            for u in self.users:
                sh("setfacl", "-m", f"u:{u.name}:x", str(d))
            self.acl.append(str(d))

    def _course_root(self) -> None:
        """The grader account's copy of the instructor repository (what it would clone):
        config, source/, expected/, release/ps1; only that account can read it."""
        self.course.mkdir()
        for d in ("source", "expected"):
            shutil.copytree(REPO / d, self.course / d)
        shutil.copytree(REPO / "release/ps1", self.course / "release/ps1")
        (self.course / "nbgrader_config.py").write_text(
            f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.root = {str(self.course)!r}\n"
            "c.Execute.timeout = 30\n", encoding="utf-8")
        sh("chown", "-R", f"{self.grader.name}:{self.grader.name}", str(self.course))
        os.chmod(self.course, 0o700)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "JUPYTER", "COV_", "COURSE_")) and
               k != "MPLBACKEND"}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            "COURSE_ID": COURSE_ID, "COURSE_GRADER": self.grader.name,
            "COURSE_ROOT": str(self.course), "COURSE_EXCHANGE": str(self.exchange),
            "COURSE_HUB_STATE": str(self.state), "COURSE_HUB_PORT": str(self.port),
            "COURSE_HUB_API_PORT": str(self.api_port),
            "COURSE_PROXY_API_PORT": str(self.proxy_port),
            "COURSE_SERVICE_PORT": str(self.service_port),
            "COURSE_INSTRUCTORS": self.instructor.name,
            "COURSE_STUDENTS": f"{self.ann.name},{self.bob.name}",
            "COURSE_SERVICE_CGROUP": self.cgroup,
            # JAX in the kernels (lecture helpers) on the CPU only
            "JAX_PLATFORMS": "cpu"})
        return env

    def start(self, timeout: float = 90) -> None:
        cmd = [str(BIN / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.state, env=self.env(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(self.proc,
                      lambda: http("GET", f"{self.url}/hub/api/", timeout=5).status == 200,
                      "jupyterhub", self.log, timeout)

    def log(self, tail: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    # ----- acting as a user -----------------------------------------------------------------
    def login(self, user: User, password: str | None = None) -> Response:
        """A hub API token for ``user``, from username + password (the PAM authenticator)."""
        r = http("POST", f"{self.url}/hub/api/users/{user.name}/tokens",
                 body={"auth": {"username": user.name,
                                "password": user.password if password is None else password},
                       "note": "tests/test_hub.py"})
        if r.status == 201 and password is None:
            user.token = r.json()["token"]
        return r

    def spawn(self, user: User) -> None:
        r = http("POST", f"{self.url}/hub/api/users/{user.name}/server", user.token)
        if r.status not in (201, 202):
            raise RuntimeError(f"spawning {user.name}: {r}\n{self.log()}")

    def wait_ready(self, user: User, timeout: float = 150) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = http("GET", f"{self.url}/hub/api/users/{user.name}", user.token)
            server = (r.json().get("servers") or {}).get("") if r.status == 200 else None
            if server and server.get("ready"):
                return f"{self.url}{server['url'].rstrip('/')}"
            time.sleep(1)
        raise RuntimeError(f"{user.name}'s server not ready after {timeout:.0f} s:\n"
                           f"{self.log()}")

    def wait_service(self, token: str, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http("GET", f"{self.service_url}/api/status", token, timeout=10).status == 200:
                return
            time.sleep(1)
        raise RuntimeError(f"the formgrader service is not up after {timeout:.0f} s:\n"
                           f"{self.log()}")

    # ----- tear-down --------------------------------------------------------------------------
    def _account_pids(self) -> list[int]:
        uids = set()
        for u in self.created:
            with contextlib.suppress(KeyError):
                uids.add(u.uid)
        pids = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                with contextlib.suppress(OSError):
                    if p.stat().st_uid in uids:
                        pids.append(int(p.name))
        return pids

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)  # the hub stops servers and proxy
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.state / "jupyterhub-proxy.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"configurable-http-proxy" in cmdline and str(self.proxy_port).encode() in \
                    cmdline:
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            pids = self._account_pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        subprocess.run([sys.executable, str(DEPLOY / "grader_service.py"), "--remove",
                        self.cgroup], capture_output=True, timeout=60)
        for d in self.acl:
            for u in self.created:
                subprocess.run(["setfacl", "-x", f"u:{u.name}", d], capture_output=True)
        for u in self.created:
            subprocess.run(["userdel", "--remove", u.name], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


# ----- code in a user's kernel, over the kernel's websocket -------------------------------------
async def _execute(server: str, token: str, code: str, timeout: float) -> dict[str, Any]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    r = http("POST", f"{server}/api/kernels", token, body={"name": "python3"})
    if r.status != 201:
        raise RuntimeError(f"cannot start a kernel at {server}: {r}")
    kernel = r.json()["id"]
    ws_url = server.replace("http://", "ws://", 1) + f"/api/kernels/{kernel}/channels"
    out: dict[str, Any] = {"stdout": "", "stderr": "", "error": None}
    try:
        conn = await websocket_connect(HTTPRequest(
            ws_url, headers={"Authorization": f"token {token}"}, request_timeout=60))
        msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
        conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False,
                        "stop_on_error": True}}))
        deadline = time.monotonic() + timeout
        replied = idle = False
        while not (replied and idle):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"kernel code still running after {timeout:.0f} s: "
                                   f"{out['stdout'][-2000:]}")
            raw = await asyncio.wait_for(conn.read_message(), left)
            if raw is None:
                raise RuntimeError(f"the kernel's websocket closed: {out}")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        conn.close()
    finally:
        http("DELETE", f"{server}/api/kernels/{kernel}", token)
    return out


def run_code(server: str, token: str, code: str, timeout: float = 240) -> dict[str, Any]:
    """Run ``code`` in a new python3 kernel of the Jupyter server at ``server`` (a user's
    server or the service) as its owner; its stdout, stderr and error (or None)."""
    return asyncio.run(_execute(server, token, code, timeout))


def run_command(server: str, token: str, argv: list[str], cwd: str,
                timeout: float = 240) -> tuple[int, str]:
    """``argv`` run by a kernel of ``server`` in ``cwd``: its exit status and output."""
    code = ("import json, subprocess\n"
            f"p = subprocess.run({argv!r}, cwd={cwd!r}, capture_output=True, text=True)\n"
            "print('@@' + json.dumps([p.returncode, p.stdout + p.stderr]))\n")
    got = run_code(server, token, code, timeout)
    line = next((ln for ln in got["stdout"].splitlines() if ln.startswith("@@")), None)
    if line is None:
        raise RuntimeError(f"{argv} did not report: {got}")
    rc, text = json.loads(line[2:])
    return int(rc), str(text)
