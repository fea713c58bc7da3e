"""The kernel side of the grading protocol: what a test cell does, in each of three modes.

A test cell calls :func:`case` once per test case: ``case(key, fn, *args, check=..., want=...)``
runs ``fn(*args)`` (the student's code) and then, depending on the mode:

* **student** (no :func:`begin` was called: the student working in JupyterLab) -- compares the
  result with ``want`` using the check kind (:mod:`course._checks`) and raises
  ``AssertionError`` with the explanation when it is wrong; the student's own exception
  propagates as usual. Hidden cases carry no ``want``: nothing is decided in the kernel.
* **grading** (the grader prepended ``begin(cell, nonce)`` to the cell) -- emits one record
  (:mod:`course._records`) with the result or the exception, and decides nothing: the grader's
  judge compares it with expected values the kernel never sees. Never raises for a wrong
  answer, so every case of the cell reports.
* **authoring** (``begin(cell, nonce, author=True)``, by ``course expected`` running the
  instructor's solution) -- both: checks ``want`` and emits records with the case's context
  (trace, call, label), from which the grader-side expected values are written.

:func:`probe` reports what the grader's tamper report looks at; :func:`canary` must fail.
Everything here runs in the student's kernel and can be rebound by the student: it only ever
decides the student's own hints, never a score.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable
from typing import Any

from course._checks import CHECKS, decide
from course._records import MIME, Record, encode

__all__ = ["begin", "canary", "case", "grading_run", "probe"]

_MISSING: Any = object()
_state: dict[str, Any] = {"cell": None, "nonce": None, "author": False}


def begin(cell: str, nonce: str, *, author: bool = False) -> None:
    """Start a graded cell of a grading (or, with ``author``, an authoring) run."""
    _state.update(cell=str(cell), nonce=str(nonce), author=bool(author))


def grading_run() -> bool:
    """True when a grader (not the student) is running this notebook."""
    return _state["nonce"] is not None


def _emit(record: Record) -> None:
    try:
        from IPython.display import display

        display({MIME: record.to_json()}, raw=True)
    except ImportError:  # plain Python: nobody collects records there
        pass


def _bases(exc: BaseException) -> tuple[str, ...]:
    return tuple(c.__name__ for c in type(exc).__mro__[1:] if c is not object)


def case(key: str, fn: Callable[..., Any], *args: Any, check: str = "exact",
         want: Any = _MISSING, call: str | None = None, label: str = "", hint: str = "",
         **context: Any) -> Any:
    """One test case: ``fn(*args)`` checked with the kind ``check`` (see the module docstring).

    ``want`` is the expected value a *visible* test shows (for ``check="raises"``, the
    exception class name); ``call``, ``label`` and ``hint`` word the explanation; extra
    keyword arguments are context for the check (e.g. ``rtol=1e-4``). Returns the result
    (None if it raised in a grading run)."""
    if check not in CHECKS and check != "raises":
        raise ValueError(f"Unknown check kind {check!r}; known: raises, {', '.join(CHECKS)}")
    name = getattr(fn, "__name__", "your function")
    described = call or f"{name}(...)"
    grading, author = _state["nonce"] is not None, _state["author"]
    value: Any = None
    raised: BaseException | None = None
    try:
        value = fn(*args)
    except Exception as exc:
        if not grading and check != "raises":
            raise
        raised = exc
    checked = (not grading or author) and want is not _MISSING
    plain_ctx: dict[str, Any] = {}
    if author or checked:
        kind = CHECKS.get(check)
        plain_ctx = {**(kind.context(args) if kind else {}), "call": described, "fn": name,
                     "label": label, "hint": hint, **context}
    why = None if raised is None else (type(raised).__name__, str(raised)[:1000],
                                       _bases(raised))
    if grading:
        ctx = encode({**plain_ctx, "check": check}) if author else None
        if why is not None:
            record = Record(_state["nonce"], _state["cell"], str(key), raised=why, context=ctx)
        else:
            record = Record(_state["nonce"], _state["cell"], str(key), value=encode(value),
                            context=ctx)
        _emit(record)
    if checked:
        problem = decide(check, None if why else encode(value), why, encode(want), plain_ctx,
                         hidden=False)
        if problem is not None:
            raise AssertionError(problem)
    return value


def canary(nonce: str) -> None:
    """A grader-injected check that must fail: if it passes, cells are being rewritten."""
    raise AssertionError(f"course canary {nonce}")


_BUILTINS = ("len", "range", "enumerate", "zip", "sorted", "isinstance", "type", "int", "str",
             "dict", "list", "tuple", "set", "max", "min", "sum", "all", "any", "repr", "print",
             "iter", "next", "map", "filter", "abs", "bool", "float", "getattr", "hasattr",
             "__import__", "__build_class__", "exec", "eval", "compile", "open")


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _course_dir() -> str:
    return __file__.rsplit("/", 1)[0] + "/"


def probe() -> dict[str, Any]:
    """What a grading kernel looks like after the student's cells ran (plain data): IPython's
    transformers and event hooks, builtins replaced or shadowed in the notebook, ``course``
    modules not loaded from the package, rebound test helpers. Emitted as the record
    ``probe`` of the cell ``__probe__``; the grader compares it with the solution's."""
    found: dict[str, Any] = {}
    try:
        ip: Any = get_ipython()  # type: ignore[name-defined]
    except NameError:
        ip = None
    if ip is not None:
        found["input_transformers"] = sorted(
            _name(t) for t in [*ip.input_transformers_cleanup, *ip.input_transformers_post])
        found["ast_transformers"] = sorted(_name(t) for t in ip.ast_transformers)
        found["events"] = sorted(f"{ev}:{_name(cb)}" for ev, cbs in ip.events.callbacks.items()
                                 for cb in cbs)
    replaced = []
    for n in _BUILTINS:
        v = getattr(builtins, n, None)
        if not (type(v).__name__ == "builtin_function_or_method" or isinstance(v, type)) or \
                getattr(v, "__module__", "builtins") not in ("builtins", None):
            replaced.append(n)
    found["builtins_replaced"] = replaced
    main = getattr(sys.modules.get("__main__"), "__dict__", {})
    found["builtins_shadowed"] = sorted(n for n in main if hasattr(builtins, n)
                                        and not n.startswith("_")
                                        and main[n] is not getattr(builtins, n))
    here = _course_dir()
    foreign = []
    for mod_name, mod in list(sys.modules.items()):
        if mod_name == "course" or mod_name.startswith("course."):
            path = getattr(mod, "__file__", None) or ""
            if not path.startswith(here):
                foreign.append(mod_name)
    found["course_modules_foreign"] = sorted(foreign)
    helpers = sys.modules.get("course.grading")
    rebound = [n for n in ("case", "begin", "probe", "canary", "require_own",
                           "reference_disabled", "mutex_case", "require_own_node")
               if not getattr(getattr(getattr(helpers, n, None), "__code__", None),
                              "co_filename", "").startswith(here)]
    found["helpers_rebound"] = rebound
    testing = sys.modules.get("numpy.testing")
    if testing is not None:
        found["numpy_testing_rebound"] = sorted(
            n for n in ("assert_array_equal", "assert_allclose", "assert_equal")
            if not str(getattr(getattr(testing, n, None), "__module__", "")).startswith("numpy"))
    if _state["nonce"] is not None:
        _emit(Record(_state["nonce"], "__probe__", "probe", value=encode(found)))
    return found
