"""Reference answers absent from a grading kernel (course.grader._withhold).

The copy of ``course`` that :func:`withheld_package` makes, imported in a fresh interpreter:
each withheld name still imports but raises when called, and its source (the file, or
``inspect.getsource``) holds none of the original body; the rest of the library works. The
copies are cached (same inputs, same folder, no rebuild; parallel builders agree). In the
real sandbox (:class:`SandboxKernelManager` with ``withhold``), ``import course`` is the copy
and the real package file, at its own host path, is not the original.
"""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tokenize
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

import course
from course.grader import SandboxKernelManager, _withhold, sandbox_problem, withheld_package

REAL = Path(course.__file__).resolve().parent
CLOCKS = ["course._clocks:LamportClock", "course._clocks:lamport_timestamps",
          "course._clocks:VectorClock", "course._clocks:vector_timestamps"]
ORDER = ["course._order:HappensBefore", "course._order:happens_before",
         "course._order:concurrent", "course._order:total_order"]
#: The reference walk (all of it lives in _workloads; shard_batch / unshard_batch, which ps4
#: also withholds, in _devices).
WALK = [f"course.jaxtools._workloads:{n}" for n in (
    "walk_pmap", "make_walk_pmap", "walk_shard_map", "make_walk_shard_map", "walk_reference",
    "_walk_block", "_reference_total")] + [
    "course.jaxtools._devices:shard_batch", "course.jaxtools._devices:unshard_batch"]
ALL = CLOCKS + ORDER + WALK
CLASSES = {"course._clocks:LamportClock", "course._clocks:VectorClock",
           "course._order:HappensBefore"}
#: One line of each original body, exactly as ast.unparse writes it too.
DISTINCTIVE = {
    "course._clocks:LamportClock": "self.time = max(self.time, timestamp) + 1",
    "course._clocks:lamport_timestamps": "cur[e.process] = out[e.name] = c + 1",
    "course._clocks:VectorClock": "self.vector[self.pid] += 1",
    "course._clocks:vector_timestamps": "waiting.setdefault(blocked, []).append(p)",
    "course._order:HappensBefore": "return self._base[b][pa] >= self._pos[a] + 1",
    "course._order:happens_before": "return HappensBefore(trace).happens_before(a, b)",
    "course._order:concurrent": "return HappensBefore(trace).concurrent(a, b)",
    "course._order:total_order": "key=lambda e: (ts[e.name], pid[e.process],",
    "course.jaxtools._workloads:walk_pmap":
        "totals = make_walk_pmap(steps, devices)(key, positions)",
    "course.jaxtools._workloads:make_walk_pmap":
        "return _cached_pmap(steps, tuple(jax.local_devices() if devices is None else "
        "devices))",
    "course.jaxtools._workloads:walk_shard_map": "mesh = walk_mesh(_pick_devices(n_devices))",
    "course.jaxtools._workloads:make_walk_shard_map": "return _cached_shard_map(steps, mesh)",
    "course.jaxtools._workloads:walk_reference":
        "total = _reference_total(key, jnp.zeros((walkers,), jnp.int32), steps)",
    "course.jaxtools._workloads:_walk_block":
        "final = lax.fori_loop(0, steps, one_step, positions)",
    "course.jaxtools._workloads:_reference_total":
        "return _walk_block(key, positions, jnp.uint32(0), steps)",
    "course.jaxtools._devices:shard_batch":
        "n = jax.local_device_count() if n_devices is None else n_devices",
    "course.jaxtools._devices:unshard_batch":
        "return leaf.reshape((shape[0] * shape[1], *shape[2:]))",
}

#: Run in a fresh interpreter with the copy first on sys.path: call every withheld callable
#: (a class, each of its methods) with placeholder arguments and report what it raised, and
#: each withheld object's inspect.getsource.
PROBE = r"""
import importlib, inspect, json, sys
names, copy = json.loads(sys.argv[1]), sys.argv[2]
import course
assert course.__file__.startswith(copy + "/"), (course.__file__, copy)

def call(f):
    sig = inspect.signature(f)
    args = [None for p in sig.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kw = {p.name: None for p in sig.parameters.values()
          if p.default is p.empty and p.kind is p.KEYWORD_ONLY}
    try:
        f(*args, **kw)
    except Exception as e:
        return [type(e).__name__, isinstance(e, RuntimeError), str(e)]
    return ["returned", False, ""]

out = {}
for name in names:
    module, qualname = name.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    calls = {qualname: call(obj)}
    if inspect.isclass(obj):
        blank = object.__new__(obj)
        for attr, value in vars(obj).items():
            if isinstance(value, property):
                calls[f"{qualname}.{attr}"] = call(lambda: getattr(blank, attr))
            elif inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod)):
                calls[f"{qualname}.{attr}"] = call(getattr(blank, attr))
    out[name] = {"calls": calls, "source": inspect.getsource(obj),
                 "file": inspect.getsourcefile(inspect.unwrap(obj))}

from course import LECTURE_EXAMPLE, Trace, check_clock_condition, random_trace
t = Trace.parse(LECTURE_EXAMPLE)
good = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 1, "f": 5}
import course.jaxtools as jt
out["_rest"] = {"parse": sorted(e.name for e in t.events),
                "random": len(random_trace(3, 12, seed=1).events),
                "clock_condition": check_clock_condition(t, good) == [],
                "walk_inputs": list(jt.walk_inputs(8, 2)[1].shape)}
print(json.dumps(out))
"""


def _probe(copy: Path, names: list[str]) -> dict[str, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV"))}
    env.update(PYTHONPATH=str(copy.parent), JAX_PLATFORMS="cpu", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(names), str(copy)],
                          capture_output=True, text=True, timeout=300, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, dict[str, object]] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _withheld_statements(name: str) -> list[str]:
    """Every simple statement (as ast.unparse writes it) of the original bodies of ``name``
    (a function's, or each method's of a class), docstrings left out."""
    module, qualname = name.split(":")
    path = REAL.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
             and n.name == qualname]
    assert nodes, name
    funcs = [f for n in nodes for f in ([n] if isinstance(n, ast.FunctionDef) else [
        c for c in n.body if isinstance(c, ast.FunctionDef)])]
    out = []
    for f in funcs:
        body = f.body[1:] if ast.get_docstring(f) is not None else f.body
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign | ast.AugAssign | ast.Return | ast.Expr
                              | ast.AnnAssign):
                    out.append(ast.unparse(node))
    assert out, name
    return out


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("withheld-cache")


@pytest.fixture(scope="module")
def copy(cache: Path) -> Path:
    return withheld_package(ALL, cache_dir=cache)


@pytest.fixture(scope="module")
def probed(copy: Path) -> dict[str, dict[str, object]]:
    return _probe(copy, ALL)


def test_every_reference_name_exists_in_the_real_library() -> None:
    import importlib

    for name in ALL:
        module, qualname = name.split(":")
        assert callable(getattr(importlib.import_module(module), qualname)), name
    assert set(DISTINCTIVE) == set(ALL)


def test_the_copy_is_named_like_the_package_and_only_rewrites_withheld_modules(
        copy: Path) -> None:
    assert copy.name == "course" and copy.is_dir()
    rewritten = {"_clocks.py", "_order.py", "jaxtools/_workloads.py", "jaxtools/_devices.py"}
    real = {p.relative_to(REAL).as_posix() for p in REAL.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    mine = {p.relative_to(copy).as_posix() for p in copy.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    assert mine == real | {"_withheld.py"}
    for rel in sorted(real - rewritten):
        assert (copy / rel).read_bytes() == (REAL / rel).read_bytes(), rel
    for rel in rewritten:
        assert (copy / rel).read_bytes() != (REAL / rel).read_bytes(), rel
        with (copy / rel).open("rb") as f:  # regenerated by ast.unparse: no comments left
            assert not [t for t in tokenize.tokenize(f.readline)
                        if t.type == tokenize.COMMENT], rel


@pytest.mark.parametrize("name", ALL)
def test_the_file_holds_no_line_of_the_original_body(copy: Path, name: str) -> None:
    module = name.split(":")[0]
    text = copy.joinpath(*module.split(".")[1:]).with_suffix(".py").read_text()
    assert DISTINCTIVE[name] in (REAL.joinpath(*module.split(".")[1:])
                                 .with_suffix(".py").read_text())
    assert DISTINCTIVE[name] not in text
    original = ast.unparse(ast.parse(REAL.joinpath(*module.split(".")[1:]).with_suffix(".py")
                                     .read_text()))
    withheld = [s for n in ALL if n.split(":")[0] == module for s in _withheld_statements(n)]
    for stmt in _withheld_statements(name):
        if len(stmt) >= 12:  # `return out` is no one's secret
            # each of its occurrences in a withheld body is gone (others, elsewhere, stay)
            assert text.count(stmt) <= original.count(stmt) - withheld.count(stmt), stmt


@pytest.mark.parametrize("name", ALL)
def test_calling_a_withheld_name_raises_naming_it(probed: dict[str, dict[str, object]],
                                                  name: str) -> None:
    calls = probed[name]["calls"]
    assert isinstance(calls, dict) and calls
    module, qualname = name.split(":")
    for what, (kind, is_runtime, text) in calls.items():
        # calling a class runs its __init__, which is what the message names
        named = f"{qualname}.__init__" if what == qualname and name in CLASSES else what
        assert kind == "Withheld" and is_runtime, (what, kind, text)
        assert text == (f"{module}.{named} is the reference answer and is not available "
                        "while your work is graded: write it yourself"), text
    if name in CLASSES:
        assert f"{qualname}.__init__" in calls and len(calls) > 2


@pytest.mark.parametrize("name", ALL)
def test_getsource_shows_no_original_body(probed: dict[str, dict[str, object]], copy: Path,
                                          name: str) -> None:
    source, file = probed[name]["source"], probed[name]["file"]
    assert isinstance(source, str) and isinstance(file, str)
    assert file.startswith(str(copy) + "/")
    assert DISTINCTIVE[name] not in source
    assert "is the reference answer" in source
    qualname = name.split(":")[1]
    assert f"def {qualname}(" in source or f"class {qualname}" in source
    for stmt in _withheld_statements(name):
        if len(stmt) >= 12:
            assert stmt not in source, stmt


def test_the_rest_of_the_library_still_works(probed: dict[str, dict[str, object]]) -> None:
    rest = probed["_rest"]
    assert rest["parse"] == list("abcdef")
    assert rest["random"] == 12
    assert rest["clock_condition"] is True
    assert rest["walk_inputs"] == [2, 4]


def test_signatures_and_docstrings_stay(copy: Path) -> None:
    text = (copy / "_clocks.py").read_text()
    assert "def lamport_timestamps(trace: Trace) -> dict[str, int]:" in text
    assert "def receive(self, timestamp: int) -> int:" in text
    assert "Lamport timestamp of every event of ``trace``" in text
    walk = (copy / "jaxtools" / "_workloads.py").read_text()
    assert "@partial(jax.jit, static_argnums=2)\ndef _reference_total(" in walk


# ---- the cache -------------------------------------------------------------------------


def test_same_inputs_same_folder_without_rebuilding(cache: Path, copy: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def no_rebuild(*a: object) -> None:
        raise AssertionError("rebuilt a cached copy")

    monkeypatch.setattr(_withhold, "_build", no_rebuild)
    assert withheld_package(ALL, cache_dir=cache) == copy
    assert withheld_package(list(reversed(ALL)) + ALL[:3], cache_dir=cache) == copy


def test_other_names_or_sources_other_folder(cache: Path, copy: Path, tmp_path: Path) -> None:
    fewer = withheld_package(CLOCKS, cache_dir=cache)
    assert fewer != copy and fewer.name == "course"
    assert "lamport_timestamps is the reference answer" in (fewer / "_clocks.py").read_text()
    assert (fewer / "_order.py").read_bytes() == (REAL / "_order.py").read_bytes()
    src = tmp_path / "course"
    shutil.copytree(REAL, src, ignore=shutil.ignore_patterns("__pycache__"))
    assert withheld_package(CLOCKS, cache_dir=cache, source=src) == fewer
    with (src / "_trace.py").open("a") as f:
        f.write("\n# changed\n")
    changed = withheld_package(CLOCKS, cache_dir=cache, source=src)
    assert changed not in (fewer, copy)
    assert (changed / "_trace.py").read_text().endswith("# changed\n")


def _build_in_another_process(cache: str) -> str:
    return str(withheld_package(ORDER, cache_dir=Path(cache)))


def test_parallel_graders_race_safely(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(6, mp_context=ctx) as pool:
        paths = set(pool.map(_build_in_another_process, [str(cache)] * 12))
    assert len(paths) == 1
    assert [p.name for p in cache.iterdir()] == [Path(paths.pop()).parent.name]


@pytest.mark.parametrize(("name", "why"), [
    ("course._nope:LamportClock", "no module 'course._nope'"),
    ("course._clocks:NoSuchThing", "defines no 'NoSuchThing'"),
    ("course._clocks:LamportClock.nope", "defines no 'LamportClock.nope'"),
    ("course._clocks:__all__", "defines no '__all__'"),
    ("numpy:array", "module 'numpy' is not in the 'course' package"),
    ("course._clocks.LamportClock", "is not 'module:qualname'"),
    ("course._clocks:", "is not 'module:qualname'"),
])
def test_unknown_names_are_a_clear_error(tmp_path: Path, name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        withheld_package([*CLOCKS, name], cache_dir=tmp_path)
    assert name.split(":")[0] in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ValueError, match="writable by others"):
        withheld_package(CLOCKS, cache_dir=shared)


def test_a_method_alone_can_be_withheld(tmp_path: Path) -> None:
    copy = withheld_package(["course._clocks:LamportClock.receive"], cache_dir=tmp_path)
    text = (copy / "_clocks.py").read_text()
    assert "self.time = max(self.time, timestamp) + 1" not in text
    assert "LamportClock.receive is the reference answer" in text
    assert "return self.tick()" in text  # send() stays


# ---- in the real sandbox ---------------------------------------------------------------

BOX = r"""
import course, glob, inspect, json, os
out = {"file": course.__file__}
try:
    course.lamport_timestamps(course.Trace.parse(course.LECTURE_EXAMPLE))
    out["call"] = "ran"
except RuntimeError as e:
    out["call"] = f"{type(e).__name__}: {e}"
try:
    course.HappensBefore(course.Trace.parse(course.LECTURE_EXAMPLE))
    out["hb"] = "ran"
except RuntimeError as e:
    out["hb"] = f"{type(e).__name__}: {e}"
out["parse"] = len(course.Trace.parse(course.LECTURE_EXAMPLE).events)
src = inspect.getsource(course._clocks)
out["getsource_body"] = BODY in src
out["getsource_stub"] = "is the reference answer" in src
try:
    out["real_file"] = open(REAL_FILE).read()
except OSError as e:
    out["real_file"] = f"OSError {e}"
try:
    open(REAL_FILE, "a").write("#")
    out["writable"] = True
except OSError:
    out["writable"] = False
found = {}
for top in ("/usr", "/opt", "/root", "/home", "/tmp", os.path.dirname(REAL_DIR),
            *{p for p in __import__("sys").path if p and os.path.isdir(p)}):
    for dirpath, dirs, files in os.walk(top):
        for f in files:
            if f == "_clocks.py" or f.startswith("_clocks.") and f.endswith(".pyc"):
                p = os.path.join(dirpath, f)
                try:
                    data = open(p, "rb").read()
                except OSError:
                    continue
                found[p] = BODY.encode() in data or b"any_sources" in data
print("RESULT" + json.dumps(out | {"found": found}))
"""


def test_in_the_sandbox_the_reference_answers_are_absent(tmp_path: Path) -> None:
    if sandbox_problem() is not None:
        pytest.fail(f"the grading sandbox cannot run on this machine: {sandbox_problem()}")
    from nbclient import NotebookClient

    real_file = REAL / "_clocks.py"
    body = DISTINCTIVE["course._clocks:lamport_timestamps"]
    assert body in real_file.read_text() and "any_sources" in real_file.read_text()
    for pyc in (REAL / "__pycache__").glob("_clocks.*.pyc"):
        assert b"any_sources" in pyc.read_bytes()  # so the probe below would see the original
    work = tmp_path / "ps1"
    work.mkdir()
    code = (f"BODY = {body!r}\nREAL_FILE = {str(real_file)!r}\nREAL_DIR = {str(REAL)!r}\n"
            + BOX)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    km = SandboxKernelManager(withhold=CLOCKS + ORDER,
                              withhold_cache=str(tmp_path / "cache"))
    client = NotebookClient(nb, km=km, timeout=120, allow_errors=True,
                            resources={"metadata": {"path": str(work)}})
    client.execute(cleanup_kc=True)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "RESULT" in text, (nb.cells[0].outputs, km.kernel_log())
    out = json.loads(text.split("RESULT", 1)[1])
    # `import course` in the box is the copy, at the real package's own path
    assert out["file"] == str(REAL / "__init__.py")
    assert out["call"] == ("Withheld: course._clocks.lamport_timestamps is the reference "
                           "answer and is not available while your work is graded: write it "
                           "yourself")
    assert out["hb"].startswith("Withheld: course._order.HappensBefore.__init__ is the "
                                "reference answer")
    assert out["parse"] == 6
    assert out["getsource_body"] is False and out["getsource_stub"] is True
    # the real file's host path shows the copy, read-only; no file in the box is the original
    assert body not in out["real_file"] and "is the reference answer" in out["real_file"]
    assert out["writable"] is False
    assert str(real_file) in out["found"]
    assert not any(out["found"].values()), out["found"]
    assert km.withheld_package() == withheld_package(CLOCKS + ORDER,
                                                     cache_dir=tmp_path / "cache")


def test_without_withhold_the_box_has_the_real_package() -> None:
    km = SandboxKernelManager()
    assert km.withhold == [] and km.withheld_package() is None
    from course.grader import bwrap_argv
    from course.grader._sandbox import SandboxLimits

    argv = bwrap_argv(["true"], run_dir=Path("/x"), workdir=None, assignment="a", env={},
                      limits=SandboxLimits())
    pairs = list(zip(argv, argv[1:], argv[2:], strict=False))
    assert ("--ro-bind", str(REAL), str(REAL)) in pairs or any(
        a == "--ro-bind" and REAL.is_relative_to(b) and b == c for a, b, c in pairs)
    swapped = bwrap_argv(["true"], run_dir=Path("/x"), workdir=None, assignment="a", env={},
                         limits=SandboxLimits(), package=Path("/elsewhere/course"))
    assert ("--ro-bind", "/elsewhere/course", str(REAL)) in list(
        zip(swapped, swapped[1:], swapped[2:], strict=False))
    assert ("--ro-bind", str(REAL), str(REAL)) not in list(
        zip(swapped, swapped[1:], swapped[2:], strict=False))
