"""JupyterHub for one course: an instructor, TAs and students on one machine (docs/deploy.md).

    COURSE_INSTRUCTORS=ada COURSE_TAS=tom,tia COURSE_STUDENTS=ann,bob \\
        jupyterhub -f deploy/jupyterhub_config.py          # as root

Who is who (hub groups, nbgrader's naming, ``<id>`` = ``COURSE_ID``):

* ``formgrade-<id>``: the instructor and the TAs. Their role reaches the formgrader service
  ``<id>`` (``access:services!service=<id>``) and lists it (``list:services``,
  ``read:services!service=<id>``: the Course List of their own server links to it). Their own
  servers have the Assignment List and Course List, no formgrader and no Create Assignment
  (nbgrader's table for a shared formgrader service); grading happens in the service.
* ``nbgrader-<id>``: the students. Their servers use the student profile
  (``course/lab/student``: Assignment List and Validate; no Formgrader, Create Assignment or
  Course List, server side and in the page), and they cannot reach the service.
* The formgrader service ``<id>`` is a hub-managed ``jupyterhub-singleuser`` running as the
  grader account ``COURSE_GRADER`` (never root) in the course root ``COURSE_ROOT``: the
  instructor repository (``source/``, ``expected/``, gradebook), which only that account can
  read. deploy/grader_service.py starts it in a cgroup delegated to that account, so that
  ``course grade`` can sandbox the students' kernels (memory and process limits).

Every account gets deploy/jupyter/nbgrader_config.py (course id, exchange) through
``JUPYTER_CONFIG_PATH``; the exchange ``COURSE_EXCHANGE`` is one shared folder (mode 1777,
made by the administrator; nbgrader keeps each submission unlistable to other students).

Authentication: PAM (the machine's accounts; JupyterHub's default, needs ``pamela``), as in
the end-to-end test. A class logs in from its LMS (LTI 1.3: ``jupyterhub-ltiauthenticator``)
or an OAuth provider (``oauthenticator``): docs/deploy.md. Settings not listed below keep
JupyterHub's defaults; every path and port can be set by an environment variable.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 -- provided by traitlets when it runs this file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(os.environ.get("COURSE_VENV_BIN", Path(sys.executable).parent))


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _names(var: str) -> list[str]:
    return [n.strip() for n in os.environ.get(var, "").split(",") if n.strip()]


COURSE_ID = _env("COURSE_ID", "csc36000-distributed")
GRADER = _env("COURSE_GRADER", f"grader-{COURSE_ID}")
COURSE_ROOT = _env("COURSE_ROOT", f"/home/{GRADER}/course")
EXCHANGE = _env("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
STATE = Path(_env("COURSE_HUB_STATE", "/srv/jupyterhub"))  # hub database, secrets, pid files
IP = _env("COURSE_HUB_IP", "127.0.0.1")
PORT = int(_env("COURSE_HUB_PORT", "8000"))
PUBLIC_URL = _env("COURSE_HUB_PUBLIC_URL", f"http://{IP}:{PORT}").rstrip("/")
SERVICE_PORT = int(_env("COURSE_SERVICE_PORT", "9999"))
SERVICE_CGROUP = _env("COURSE_SERVICE_CGROUP", f"course-{COURSE_ID}")  # grader_service.py
INSTRUCTORS, TAS, STUDENTS = (_names(v) for v in
                              ("COURSE_INSTRUCTORS", "COURSE_TAS", "COURSE_STUDENTS"))
STAFF_GROUP, STUDENT_GROUP = f"formgrade-{COURSE_ID}", f"nbgrader-{COURSE_ID}"

# ----- the hub, its proxy and its state ---------------------------------------------------
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
ssl_cert, ssl_key = os.environ.get("COURSE_HUB_SSL_CERT"), os.environ.get("COURSE_HUB_SSL_KEY")
if ssl_cert and ssl_key:  # TLS at the hub itself; behind a TLS proxy leave these unset
    c.JupyterHub.bind_url = f"https://{IP}:{PORT}"
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = ssl_cert, ssl_key
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(_env("COURSE_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{_env('COURSE_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
# Debian's node-configurable-http-proxy (make install apt-gets it) keeps its modules in
# /usr/share/nodejs, which Debian's nodejs searches and other builds (e.g. nodesource's) do not.
_CHP_MODULES = Path("/usr/share/nodejs")
if (_CHP_MODULES / "configurable-http-proxy").is_dir():
    c.ConfigurableHTTPProxy.command = [
        "env", f"NODE_PATH={_CHP_MODULES}", shutil.which("configurable-http-proxy")
        or "configurable-http-proxy"]

# ----- who may log in, and their groups and roles ------------------------------------------
c.JupyterHub.authenticator_class = _env("COURSE_HUB_AUTHENTICATOR", "pam")
c.PAMAuthenticator.open_sessions = False  # no pam_systemd sessions for servers
c.Authenticator.allowed_users = set(INSTRUCTORS + TAS + STUDENTS)
c.Authenticator.admin_users = set(_names("COURSE_HUB_ADMINS"))  # none by default
c.JupyterHub.load_groups = {STAFF_GROUP: {"users": INSTRUCTORS + TAS},
                            STUDENT_GROUP: {"users": STUDENTS}}
c.JupyterHub.load_roles = [
    {"name": STAFF_GROUP, "groups": [STAFF_GROUP],
     "scopes": [f"access:services!service={COURSE_ID}", "list:services",
                f"read:services!service={COURSE_ID}"]},
    {"name": STUDENT_GROUP, "groups": [STUDENT_GROUP],
     "scopes": ["list:services", f"read:services!service={COURSE_ID}"]},
    # A server's own token may do what its owner may (the Course List asks the hub which
    # formgraders its user reaches).
    {"name": "server", "scopes": ["inherit"]},
]

# ----- everyone's servers -------------------------------------------------------------------
PATH = f"{BIN}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin"
COMMON_ENV = {"COURSE_ID": COURSE_ID, "COURSE_EXCHANGE": EXCHANGE, "PATH": PATH,
              # what `make lab` gives students: ps4's pmap needs four CPU devices
              "JAX_NUM_CPU_DEVICES": "4"}
# The student profile ships with the course package (course/lab/student), so it is found in
# the installed package: the instructor repository itself need not be readable by anyone.
_spec = importlib.util.find_spec("course")
_PACKAGE = Path(_spec.origin).parent if _spec and _spec.origin else REPO / "course"
PROFILES = {"student": [_PACKAGE / "lab/student", HERE / "jupyter"],
            "instructor": [HERE / "instructor", HERE / "jupyter"],
            "formgrader": [HERE / "formgrader", HERE / "jupyter"]}


def config_path(profile: str) -> str:
    return os.pathsep.join(str(p) for p in PROFILES[profile])


c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = dict(COMMON_ENV)
c.Spawner.start_timeout = int(_env("COURSE_SPAWN_TIMEOUT", "120"))
c.Spawner.http_timeout = int(_env("COURSE_SPAWN_TIMEOUT", "120"))


def role_profile(spawner) -> None:  # type: ignore[no-untyped-def]
    """The instructor profile for the course's staff, the student profile for everyone else
    (so an account in no group gets the least)."""
    staff = any(g.name == STAFF_GROUP for g in spawner.user.groups)
    spawner.environment = {**COMMON_ENV,
                           "JUPYTER_CONFIG_PATH": config_path("instructor" if staff
                                                              else "student")}


c.Spawner.pre_spawn_hook = role_profile

# ----- the formgrader service ----------------------------------------------------------------
# No "user" key: the hub (root) starts deploy/grader_service.py, which delegates a cgroup to
# the grader account and then runs the server as that account (never as root).
c.JupyterHub.services = [{
    "name": COURSE_ID,  # nbgrader requires the service to be named as the course
    "url": f"http://127.0.0.1:{SERVICE_PORT}",
    "command": [sys.executable, str(HERE / "grader_service.py"), GRADER, COURSE_ROOT,
                SERVICE_CGROUP, "--", str(BIN / "jupyterhub-singleuser")],
    "cwd": COURSE_ROOT,
    "oauth_no_confirm": True,
    "environment": {
        **COMMON_ENV,
        "JUPYTER_CONFIG_PATH": config_path("formgrader"),
        "JUPYTERHUB_DEFAULT_URL": "/lab",
        # the #1870 workaround (deploy/formgrader/jupyter_server_config.py)
        "COURSE_FORMGRADER_FRAME_ANCESTORS": f"{PUBLIC_URL}/services/{COURSE_ID}/",
    },
}]
