"""Submissions that attack the grader from inside their kernel (tests/test_sandbox_grading.py).

Each :class:`Attack` is code a student puts at the top of ps1's Part B answer cell (the
instructor's solution follows it, so an attack that fails harmlessly still scores full
marks). Placeholders, filled in by the test: ``{ROOT}`` the course root, ``{ME}`` the
attacker's student id, ``{PORT}`` a port the test listens on at 127.0.0.1, ``{MARK}`` a token
that names the attack's processes and files. An attack that *works* prints ``BREACH`` (or
leaves a trace the test finds: a changed file, a connection, a process), so the test never
relies on the attack's own report alone.

``outcome`` is the recorded outcome the submission must end with and ``score`` its
auto-graded points out of 11 (Part A: 4, Part B: 7).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    name: str
    code: str
    outcome: str = "graded"
    score: float = 11.0

    def __repr__(self) -> str:
        return f"Attack({self.name!r}, {self.outcome!r}, {self.score})"


def _try(body: str) -> str:
    """Code that prints BREACH if ``body`` runs without raising."""
    lines = "\n".join("    " + ln for ln in body.strip().splitlines())
    return f"try:\n{lines}\n    print('BREACH')\nexcept Exception as _e:\n    pass\n"


ATTACKS = [
    # ---- reading what a student must never see -----------------------------------------
    Attack("read_source", _try("open('{ROOT}/source/ps1/ps1.ipynb').read()")),
    Attack("read_gradebook", _try("open('{ROOT}/gradebook.db', 'rb').read()")),
    Attack("list_course_root", _try("import os\nassert os.listdir('{ROOT}')")),
    Attack("read_other_submission",
           _try("open('{ROOT}/submitted/solution/ps1/ps1.ipynb').read()")),
    Attack("read_other_autograded",
           _try("open('{ROOT}/autograded/solution/ps1/ps1.ipynb').read()")),
    Attack("read_grader_home", _try("import os\nassert os.listdir('/root')[0] != '.pyenv'")),
    Attack("read_secret_env", "import os\nif 'COURSE_SECRET' in str(dict(os.environ)) or "
           "'{MARK}' in open('/proc/1/environ').read():\n    print('BREACH')\n"),
    Attack("proc_escape", _try("import os\nos.listdir('/proc/1/root{ROOT}')")),
    # ---- writing what a student must never change ---------------------------------------
    Attack("write_gradebook", _try("open('{ROOT}/gradebook.db', 'ab').write(b'x')")),
    Attack("write_config", _try("open('{ROOT}/nbgrader_config.py', 'a').write('\\nBAD=1\\n')")),
    Attack("write_other_submission",
           _try("open('{ROOT}/submitted/solution/ps1/ps1.ipynb', 'w').write('{{}}')")),
    Attack("write_own_submitted",
           _try("open('{ROOT}/submitted/{ME}/ps1/ps1.ipynb', 'w').write('{{}}')")),
    # (no BREACH print: the box's own /tmp is writable, so makedirs succeeds there; what
    # counts is that the solution's record on the host still says "graded")
    Attack("write_run_record",
           "import json, os\nd = '{ROOT}/.grading/runs/ps1/solution'\n"
           "os.makedirs(d, exist_ok=True)\nopen(d + '/ps1.json', 'w').write(json.dumps("
           "dict(student='solution', assignment='ps1', notebook='ps1', "
           "outcome='kernel died')))\n"),
    Attack("write_venv", _try("import course, os\n"
                              "open(os.path.join(os.path.dirname(course.__file__), "
                              "'grading.py'), 'a').write('#')")),
    Attack("scratch_is_private", "open('{MARK}.txt', 'w').write('mine')\n"),
    # ---- reaching other processes --------------------------------------------------------
    Attack("loopback_to_host", _try("import socket\n"
                                    "socket.create_connection(('127.0.0.1', {PORT}), 2)")),
    # Every pid but its own threads (a thread id names the whole process to kill()).
    Attack("kill_everything", "import os, signal\nme = os.getpid()\n"
           "mine = {{int(t) for t in os.listdir(f'/proc/{{me}}/task')}}\n"
           "for p in range(1, 40000):\n    if p in mine:\n        continue\n"
           "    try:\n        os.kill(p, signal.SIGKILL)\n    except OSError:\n        pass\n"
           "try:\n    os.kill(-1, signal.SIGTERM)\nexcept OSError:\n    pass\n"),
    Attack("orphan_processes", "import subprocess, sys\n"
           "for _ in range(3):\n"
           "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(900)', "
           "'{MARK}'], start_new_session=True)\n"),
    Attack("escape_namespaces", _try("import os\nos.chroot('/')\n") +
           _try("import ctypes\nassert ctypes.CDLL(None).unshare(0x10000000) == 0")),
    # ---- resources -----------------------------------------------------------------------
    Attack("fork_bomb", "import os, time\nkids = []\nfor _ in range(500):\n    try:\n"
           "        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n"
           "        time.sleep(30)\n        os._exit(0)\n    kids.append(pid)\n"
           "for k in kids:\n    os.kill(k, 9)\n    os.waitpid(k, 0)\n",
           outcome="process limit"),
    Attack("disk_fill", _try("open('big.bin', 'wb').write(b'x' * (64 << 20))") +
           _try("open('/tmp/big.bin', 'wb').write(b'x' * (15 << 20))\n"
                "open('/tmp/big2.bin', 'wb').write(b'x' * (15 << 20))\n"
                "open('/tmp/big3.bin', 'wb').write(b'x' * (15 << 20))\n"
                "open('/tmp/big4.bin', 'wb').write(b'x' * (15 << 20))\n"
                "open('/tmp/big5.bin', 'wb').write(b'x' * (15 << 20))")),
    Attack("memory_bomb", "hog = []\nwhile True:\n    hog.append(b'x' * (32 << 20))\n",
           outcome="memory limit", score=4.0),
    Attack("ignores_interrupt", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
           "while True:\n    pass\n", outcome="timed out", score=4.0),
    Attack("output_flood", "import sys\nfor _ in range(400):\n    sys.stdout.write('y' * 4000 "
           "+ '\\n')\n    sys.stdout.flush()\n", outcome="output limit"),
]
