"""Submissions that try to decide or learn their own grade from inside the kernel
(tests/test_protocol_attacks.py): the grading protocol's adversarial suite for ps1.

Each :class:`Attack` is code a student appends to ps1's answer cells (``cells``: by default
the first, ``lamport_clock``; attacks that define the answers' names go in both); the rest of
the notebook keeps the release's stubs (``raise NotImplementedError()``), unless ``solve``
names answer cells that get the instructor's solution. So the honest score of every attack is
the points of the parts it really solved (``score``); anything more is an inflation. ``flags``
are substrings the judge's tamper report must contain (it informs the TA; the score never
depends on it). ``leak`` attacks try to put hidden test code or inputs into what the student
gets back.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ps1's points: Part A (the clock) 4, Part B (timestamps) 7.
PART_A, PART_B = 4.0, 7.0
BOTH = ("lamport_clock", "lamport_timestamps")


@dataclass(frozen=True)
class Attack:
    name: str
    code: str
    score: float = 0.0
    solve: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    leak: bool = False
    cells: tuple[str, ...] = ("lamport_clock",)

    def __repr__(self) -> str:
        return f"Attack({self.name!r}, score={self.score}, flags={self.flags})"


_FAKE_GRADING = '''
import contextlib, types
fake = types.ModuleType("course.grading")
fake.case = lambda *a, **k: None
fake.begin = lambda *a, **k: None
fake.probe = lambda *a, **k: {}
fake.require_own = lambda *a, **k: None
fake.reference_disabled = lambda *a, **k: contextlib.nullcontext()
fake.setup_notebook = lambda: None
'''

ATTACKS = [
    # ---- turning test cells into no-ops ---------------------------------------------------
    Attack("input_transformer_all", '''
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
''', flags=("canary", "probe did not report")),
    Attack("input_transformer_tests", '''
def _quiet(lines):
    return ["pass\\n"] if lines and lines[0].startswith("# Checks") else lines
get_ipython().input_transformers_cleanup.insert(0, _quiet)
''', flags=("input transformers",)),
    Attack("ast_transformer", '''
import ast
class _Empty(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = [ast.Pass()]
        return node
get_ipython().ast_transformers.append(_Empty())
''', flags=("canary",)),
    Attack("pre_run_hook_raises_skip", '''
def _skip(info):
    if info.raw_cell.startswith("# Checks") or "course_grading" in info.raw_cell:
        raise KeyboardInterrupt
get_ipython().events.register("pre_run_cell", _skip)
''', flags=("events",)),
    # ---- lying about results ----------------------------------------------------------------
    Attack("rigged_int", '''
class Eq(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
class LamportClock:
    time = Eq(0)
    def tick(self): return Eq(0)
    def send(self): return Eq(0)
    def receive(self, ts): return Eq(0)
class _AnyDict(dict):
    def __eq__(self, other): return True
def lamport_timestamps(trace):
    return _AnyDict({e.name: Eq(0) for e in trace.events})
''', cells=BOTH),
    Attack("rebind_case", '''
import course.grading
course.grading.case = lambda *a, **k: None
course.grading.probe = lambda *a, **k: {}
''', flags=("reported no results",)),
    Attack("fake_module", _FAKE_GRADING + '''
import sys
sys.modules["course.grading"] = fake
import course
course.grading = fake
''', flags=("reported no results",)),
    Attack("import_hook", _FAKE_GRADING + '''
import builtins
_real = builtins.__import__
def _hook(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "course.grading":
        return fake
    return _real(name, globals, locals, fromlist, level)
builtins.__import__ = _hook
''', flags=("probe did not report",)),
    Attack("forged_records", '''
from IPython.display import display
import course._protocol as _p
def _forge(result):
    st = _p._state
    if st["nonce"] and st["cell"]:
        for k in ["tick-send", "lecture", "random-0", "edge-0", "ahead"]:
            display({"application/vnd.course.record.v1+json": {
                "v": 1, "nonce": st["nonce"], "cell": st["cell"], "key": k,
                "value": {"list": [0, 1, 1, 2, 2]}}}, raw=True)
get_ipython().events.register("post_run_cell", _forge)
''', flags=("conflicting records",)),
    Attack("replayed_records", '''
from IPython.display import display
def _replay(result):
    display({"application/vnd.course.record.v1+json": {
        "v": 1, "nonce": "0" * 32, "cell": "ps1_ts_lecture", "key": "lecture",
        "value": {"dict": [["a", 1], ["b", 2], ["c", 3], ["d", 4], ["e", 1], ["f", 5]]}}},
        raw=True)
get_ipython().events.register("post_run_cell", _replay)
''', flags=("another grading run",)),
    Attack("partial_credit_result", '''
def _score(result):
    get_ipython().displayhook(11)
get_ipython().events.register("post_run_cell", _score)
'''),
    # ---- the reference answers, captured before any guard runs ------------------------------
    Attack("reference_global", '''
import course
LamportClock = course.LamportClock
lamport_timestamps = course.lamport_timestamps
''', cells=BOTH),
    Attack("reference_default_argument", '''
import course, course._clocks
def lamport_timestamps(trace, _ref=course._clocks.lamport_timestamps):
    return _ref(trace)
class LamportClock(course._clocks.LamportClock.__mro__[0]):
    pass
''', cells=BOTH),
    Attack("reference_getsource", '''
import inspect, course._clocks
exec(inspect.getsource(course._clocks.LamportClock))
exec(inspect.getsource(course._clocks.lamport_timestamps))
''', cells=BOTH),
    Attack("reference_file", '''
import course._clocks
_ns = {}
exec(compile(open(course._clocks.__file__).read(), "clocks", "exec"), _ns)
LamportClock, lamport_timestamps = _ns["LamportClock"], _ns["lamport_timestamps"]
''', cells=BOTH),
    # ---- emptying the hidden tests' loops ---------------------------------------------------
    Attack("shadow_enumerate", '''
def enumerate(*args, **kwargs):
    return iter(())
''', solve=("lamport_clock",), score=PART_A, flags=("builtins shadowed",)),
    Attack("shadow_range_builtins", '''
import builtins
builtins.range = lambda *a: []
'''),  # breaks IPython itself: times out, recorded so
    # ---- learning the hidden tests ----------------------------------------------------------
    Attack("prints_hidden_tests", '''
import sys
class LamportClock:
    def __init__(self):
        print("LEAK" + "-CELL", get_ipython().user_ns.get("In", [""])[-1])
        raise ValueError("LEAK" + "-RAISE " + get_ipython().user_ns.get("In", [""])[-1])
def lamport_timestamps(trace):
    print("LEAK" + "-INPUT", trace.to_text())
    sys.__stdout__.write("LEAK" + "-FD " + get_ipython().user_ns.get("In", [""])[-1])
    raise ValueError("LEAK" + "-RAISE " + get_ipython().user_ns.get("In", [""])[-1])
''', leak=True, cells=BOTH),
]
