"""`course similarity`: a copy of another student with renamed variables and a copy of the
library's reference are flagged; an independent correct solution is not."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline import Course

from course import _clocks
from course.grader._similarity import find_similar

pytestmark = pytest.mark.slow

A = "ps1"
INDEPENDENT = {
    "lamport_clock": '''class LamportClock:
    """Counts events; a receive jumps past the message's stamp."""

    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        self.time = self.time + 1
        return self.time

    def send(self) -> int:
        self.time = self.time + 1
        return self.time

    def receive(self, ts: int) -> int:
        if ts > self.time:
            self.time = ts
        self.time = self.time + 1
        return self.time
''',
    "lamport_timestamps": '''def lamport_timestamps(trace):
    pending = {}
    result = {}
    state = {}
    for event in trace.causal_order():
        here = state.setdefault(event.process, LamportClock())
        if event.kind == "receive":
            result[event.name] = here.receive(pending.pop(event.message))
            continue
        stamp = here.send() if event.kind == "send" else here.tick()
        if event.kind == "send":
            pending[event.message] = stamp
        result[event.name] = stamp
    return result
''',
}


def _renamed(code: str) -> str:
    for old, new in {"clocks": "cl", "carried": "msgstamp", "clock": "c", "ts": "stamps",
                     "trace": "tr", "time": "now"}.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def test_copies_are_flagged_and_independent_work_is_not(tmp_path: Path) -> None:
    c = Course.create(tmp_path / "c", [A])
    sol = c.solutions(A)
    c.submit("ann", A, c.submission(A))
    c.submit("ben", A, c.submission(A, {k: _renamed(sol[k]) for k in INDEPENDENT}))
    ref = {"lamport_clock": inspect.getsource(_clocks.LamportClock),
           "lamport_timestamps": inspect.getsource(_clocks.lamport_timestamps)}
    c.submit("cid", A, c.submission(A, ref))
    c.submit("dee", A, c.submission(A, INDEPENDENT))
    matches = {(m.left, m.right): m for m in find_similar(c.root, A)}
    assert ("ann", "ben") in matches and min(matches["ann", "ben"].share) > 0.9
    assert ("cid", "course/_clocks.py") in matches
    assert not [pair for pair in matches if "dee" in pair], matches
    assert matches["ann", "ben"].lines  # the matching region is shown
    proc = subprocess.run([sys.executable, "-m", "course.cli", "--root", str(c.root),
                           "similarity", A], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ann ~ ben" in proc.stdout and "dee" not in proc.stdout
    with pytest.raises(ValueError, match="threshold"):
        find_similar(c.root, A, threshold=0)
