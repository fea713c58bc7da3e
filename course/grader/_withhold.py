"""A copy of the ``course`` package without the reference answers of the graded parts.

The library solves the assignments (``course._clocks.lamport_timestamps``,
``course._order.HappensBefore``, the reference JAX walk, ...). A grading kernel must not be
able to call, capture (a global, a default argument) or read (``inspect.getsource``) them, so
the sandbox binds, at the package's own path, a copy made by :func:`withheld_package` in
which each withheld object keeps its name, signature, decorators, bases and docstring but not
its code: every function body (every method of a withheld class: ``__init__``, properties,
static and class methods) is one ``raise`` of :class:`Withheld` (a ``RuntimeError``) that
names it. ``import course``, ``from course import lamport_timestamps`` and the rest of the
library still work.

Only the rewritten modules are regenerated (by :func:`ast.unparse`, so their comments go
too); every other file is copied byte for byte (``__pycache__`` skipped, then the copy is
byte-compiled so a kernel does not compile the whole package at each start).

The copy is cached under ``cache_dir/<key>/course``, ``key`` a hash of the package's files,
the names and this module's own source; it is built in a private temporary folder and
renamed into place, so graders running in parallel race safely (the loser discards its
build and uses the winner's).
"""

from __future__ import annotations

import ast
import compileall
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["WITHHELD_MODULE", "default_cache_dir", "package_dir", "withheld_package"]

#: The module, added to the copy only, that defines the exception the stubs raise.
WITHHELD_MODULE = "_withheld"
_EXC = "_Withheld"
_EXC_SOURCE = '''\
"""Only in a grading kernel's copy of the package (course.grader._withhold)."""


class Withheld(RuntimeError):
    """Raised by a reference answer that is not available while work is graded."""
'''
_SKIP = {"__pycache__"}


def package_dir() -> Path:
    """The real ``course`` package directory (resolved)."""
    import course

    return Path(course.__file__).resolve().parent


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/course-withheld``, else ``~/.cache/course-withheld``.

    Per user, not in the shared temp dir: another account on the grading machine could
    pre-create a folder in ``/tmp`` under the (predictable) cache key and so choose the code
    every grading kernel imports as ``course``. The grader's own cache folder is writable by
    it alone, survives between batches (one build per package version and name list) and is
    never seen in the box (only the copy itself is bound there, read-only)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "course-withheld"


def message(module: str, qualname: str) -> str:
    return (f"{module}.{qualname} is the reference answer and is not available while your "
            f"work is graded: write it yourself")


def _files(src: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        for name in sorted(filenames):
            yield Path(dirpath, name)


def _parse_name(name: str, src: Path) -> tuple[str, str, Path]:
    module, sep, qualname = name.partition(":")
    parts = module.split(".")
    if not sep or not qualname or not all(p.isidentifier() for p in parts) or not all(
            q.isidentifier() for q in qualname.split(".")):
        raise ValueError(f"withheld name {name!r} is not 'module:qualname' "
                         f"(e.g. 'course._clocks:LamportClock')")
    if parts[0] != src.name:
        raise ValueError(f"withheld name {name!r}: module {module!r} is not in the "
                         f"{src.name!r} package")
    base = src.joinpath(*parts[1:])
    candidates = [base / "__init__.py"] if len(parts) == 1 else [base.with_suffix(".py"),
                                                                base / "__init__.py"]
    for path in candidates:
        if path.is_file():
            return module, qualname, path
    raise ValueError(f"withheld name {name!r}: no module {module!r} in {src}")


def _cache_key(names: Sequence[str], src: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for name in names:
        h.update(b"name\0" + name.encode() + b"\0")
    for path in _files(src):
        rel = path.relative_to(src).as_posix().encode()
        h.update(b"file\0" + rel + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:32]


def _stub_body(body: list[ast.stmt], what: str) -> list[ast.stmt]:
    raise_ = ast.Raise(exc=ast.Call(func=ast.Name(_EXC, ast.Load()),
                                    args=[ast.Constant(what)], keywords=[]), cause=None)
    first = body[0] if body else None
    keep: list[ast.stmt] = []
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        keep.append(first)  # the docstring
    return [*keep, raise_]


def _withhold(node: ast.stmt, module: str, qualname: str) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.body = _stub_body(node.body, message(module, qualname))
    elif isinstance(node, ast.ClassDef):
        for child in node.body:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                _withhold(child, module, f"{qualname}.{child.name}")


def _find(tree: ast.Module, qualname: str) -> list[ast.stmt]:
    """Every definition of ``qualname`` (a property's getter and setter share a name)."""
    scope: list[ast.stmt] = tree.body
    found: list[ast.stmt] = []
    for i, part in enumerate(qualname.split(".")):
        found = [n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                                 | ast.ClassDef) and n.name == part]
        if not found:
            return []
        if i < qualname.count("."):
            classes = [n for n in found if isinstance(n, ast.ClassDef)]
            if not classes:
                return []
            scope = classes[-1].body
    return found


def _import_at(tree: ast.Module, pkg: str) -> None:
    """Insert ``from <pkg>._withheld import Withheld as _Withheld`` after the docstring and
    the ``from __future__`` imports (which must come first)."""
    at = 0
    for i, node in enumerate(tree.body):
        doc = (i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
               and isinstance(node.value.value, str))
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (doc or future):
            break
        at = i + 1
    tree.body.insert(at, ast.ImportFrom(module=f"{pkg}.{WITHHELD_MODULE}",
                                        names=[ast.alias("Withheld", _EXC)], level=0))


def _rewrite(src: Path, names: Sequence[str]) -> dict[Path, str]:
    """Relative path -> new source of every module with a withheld object."""
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name in names:
        module, qualname, path = _parse_name(name, src)
        by_file.setdefault(path, []).append((module, qualname))
    out: dict[Path, str] = {}
    for path, objects in by_file.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if _EXC in defined:
            raise ValueError(f"{path} already uses the name {_EXC!r}; cannot withhold from it")
        for module, qualname in objects:
            nodes = _find(tree, qualname)
            if not nodes:
                raise ValueError(f"withheld name '{module}:{qualname}': {module} defines no "
                                 f"{qualname!r} (a top-level function or class, or a class's "
                                 f"method)")
            for node in nodes:
                _withhold(node, module, qualname)
        _import_at(tree, src.name)
        out[path.relative_to(src)] = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    return out


def _build(src: Path, names: Sequence[str], dest: Path) -> None:
    """Write the withheld copy of ``src`` as the new directory ``dest``."""
    rewritten = _rewrite(src, names)
    if (src / f"{WITHHELD_MODULE}.py").exists():
        raise ValueError(f"{src} already has a {WITHHELD_MODULE}.py")
    dest.mkdir()
    for path in _files(src):
        rel = path.relative_to(src)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in rewritten:
            target.write_text(rewritten[rel], encoding="utf-8")
        else:
            shutil.copy2(path, target)
    (dest / f"{WITHHELD_MODULE}.py").write_text(_EXC_SOURCE, encoding="utf-8")
    for path in [dest / rel for rel in rewritten] + [dest / f"{WITHHELD_MODULE}.py"]:
        path.chmod(0o644)
    compileall.compile_dir(str(dest), quiet=2, workers=1)


def withheld_package(names: Sequence[str], *, cache_dir: Path,
                     source: Path | None = None) -> Path:
    """The directory of a copy of the ``course`` package (``source``, default the real one)
    in which each of ``names`` (``"module:qualname"``, e.g. ``"course._clocks:LamportClock"``,
    ``"course._order:HappensBefore"``, ``"course.jaxtools._workloads:walk_pmap"``) is a stub
    that raises :class:`Withheld` naming it.

    The copy is named like the package (put its parent on ``sys.path``, or bind it at the
    package's path) and cached in ``cache_dir`` by a hash of the package's files and the
    names (their order and repeats do not matter). ``ValueError`` names an unknown module or
    object, and a ``cache_dir`` that others may write to.
    """
    src = (source or package_dir()).resolve()
    unique = sorted(set(names))
    for name in unique:
        _parse_name(name, src)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if cache_dir.stat().st_mode & 0o022:
        raise ValueError(f"withheld-package cache {cache_dir} is writable by others: anyone "
                         f"who can write there chooses the code grading kernels import")
    final = cache_dir / _cache_key(unique, src)
    if (final / src.name).is_dir():
        return final / src.name
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        _build(src, unique, tmp / src.name)
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from a box user other than ours
        try:
            os.rename(tmp, final)  # atomic; fails if another grader got there first
        except OSError:
            if not (final / src.name).is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / src.name
