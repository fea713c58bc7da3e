"""Helpers that the assignments' test cells call (they run inside the student's kernel).

Light on purpose: only the standard library and ``course`` itself; never nbgrader (the
instructor-side machinery lives in :mod:`course.cli`).

Three jobs:

* **No points lost to stderr.** nbgrader scores a grade cell 0 as soon as it writes anything
  to stderr, so a correct answer that triggers a ``DeprecationWarning`` or a library's log
  message would be marked wrong. :func:`route_stderr_to_stdout` sends Python warnings,
  ``logging`` and even raw writes to file descriptor 2 to stdout instead. The locked set-up
  cell calls :func:`setup_notebook`, and importing this module inside a kernel does it too, so
  every grade cell (they all import from here) is protected even if the set-up cell was
  deleted.
* **Own work only.** :func:`require_own` rejects the course library's reference objects
  (identity, defining module, base classes) and :func:`reference_disabled` swaps the
  library's reference names for functions that raise, restoring them in ``finally``.
* **Helpful messages.** ``explain_*`` turn a wrong answer into a short account: the trace,
  the first wrong event, the pair of events that breaks the clock condition.

Verdicts are never decided here. At grading time a test cell only runs the student's code on
its inputs and :func:`case` emits each result as a record (:mod:`course._records`); the
grader compares it with expected values the kernel never sees (:mod:`course._protocol`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import course
import course._clocks as _clocks_mod
import course._order as _order_mod
from course._checks import (
    parallel_evidence,
    plain_order,
    plain_timestamps,
    plain_vectors,
    require_bool,
)
from course._explain import explain_order, explain_relation, explain_timestamps, explain_vectors
from course._protocol import begin, canary, case, grading_run, probe

__all__ = [
    "JAX_REFERENCE_NAMES",
    "REFERENCE_NAMES",
    "begin",
    "canary",
    "case",
    "explain_order",
    "explain_relation",
    "explain_timestamps",
    "explain_vectors",
    "grading_run",
    "in_kernel",
    "mutex_case",
    "parallel_evidence",
    "plain_order",
    "plain_timestamps",
    "plain_vectors",
    "probe",
    "reference_disabled",
    "require_bool",
    "require_own",
    "require_own_node",
    "route_stderr_to_stdout",
    "setup_notebook",
]

#: Library names that solve an assignment part; grade cells disable them while they run.
REFERENCE_NAMES: tuple[str, ...] = (
    "LamportClock",
    "VectorClock",
    "HappensBefore",
    "lamport_timestamps",
    "vector_timestamps",
    "happens_before",
    "concurrent",
    "total_order",
)
_MODULES = (course, _clocks_mod, _order_mod)
#: The JAX library's reference answers (ps4: the parallel random walk and the batch splitter),
#: public names and the private helpers they call. Switched off by :func:`reference_disabled`
#: too, but only in modules already imported: importing ``course.jaxtools`` here would start
#: JAX (ps4's test cells import it before they switch anything off).
JAX_REFERENCE_NAMES: tuple[str, ...] = (
    "walk_pmap",
    "make_walk_pmap",
    "walk_shard_map",
    "make_walk_shard_map",
    "walk_reference",
    "shard_batch",
    "unshard_batch",
    "_walk_block",
    "_reference_total",
    "_cached_pmap",
    "_cached_shard_map",
)
_JAX_MODULES = ("course.jaxtools", "course.jaxtools._workloads", "course.jaxtools._devices")
# The genuine reference objects, captured when this module is first imported (the set-up
# cell imports it before any student cell runs).
_REFERENCE_OBJECTS: dict[str, Any] = {n: getattr(course, n) for n in REFERENCE_NAMES}


# ----- stderr -------------------------------------------------------------------------
def in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel."""
    stream = sys.stderr
    return type(stream).__module__.startswith("ipykernel") or (
        "ipykernel" in sys.modules and type(sys.stdout).__module__.startswith("ipykernel"))


_ROUTED = False


def route_stderr_to_stdout(*, force: bool = False) -> bool:
    """Send everything that would reach stderr to stdout instead (idempotent).

    * ``sys.stderr`` becomes ``sys.stdout``: Python warnings, ``print(..., file=sys.stderr)``
      and ``logging``'s last-resort handler all look it up when they write;
    * existing ``logging.StreamHandler`` objects that hold the old stderr are re-pointed;
    * file descriptor 2 is duplicated from descriptor 1, so C libraries, subprocesses and
      ``os.write(2, ...)`` land on stdout too (ipykernel forwards both descriptors).

    Only acts inside a kernel unless ``force`` (a plain Python process keeps its stderr).
    Returns whether routing is in place.
    """
    global _ROUTED
    if _ROUTED:
        return True
    if not (force or in_kernel()):
        return False
    old = sys.stderr
    sys.stderr = sys.stdout
    for obj in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(obj, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                handler.setStream(sys.stdout)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        os.dup2(1, 2)
    _ROUTED = True
    return True


def setup_notebook() -> None:
    """What the locked set-up cell of every assignment runs."""
    route_stderr_to_stdout()


# ----- own work only ------------------------------------------------------------------
def _from_course(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "course" or module.startswith("course.")


def require_own(obj: Any, name: str) -> None:
    """Fail (AssertionError with a clear message) unless ``obj`` is the student's own code.

    Rejects the course library's reference objects, anything defined in the ``course``
    package, classes deriving from one, and wrappers (``functools.wraps``/``partial``) of
    one. A function of your own that *calls* the library is caught at run time instead, by
    :func:`reference_disabled`.
    """
    seen: set[int] = set()
    stack = [obj]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if any(x is ref for ref in _REFERENCE_OBJECTS.values()) or _from_course(x):
            where = getattr(x, "__qualname__", type(x).__name__)
            raise AssertionError(
                f"`{name}` comes from the course library ({getattr(x, '__module__', '?')}."
                f"{where}), not from your notebook. The library's version is the reference "
                f"answer: write `{name}` yourself in the answer cell above.")
        if isinstance(x, type):
            stack.extend(b for b in x.__mro__[1:] if b is not object)
        for attr in ("__wrapped__", "func"):
            inner = getattr(x, attr, None)
            if inner is not None and (callable(inner) or isinstance(inner, type)):
                stack.append(inner)
    if obj is None:
        raise AssertionError(f"`{name}` is None: define it in the answer cell above.")


def _disabled(name: str, where: str = "course",
              hint: str = "your own code may use Trace's methods: events, events_of, "
                          "processes, pid, causal_order, sends, receives"
              ) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{where}.{name} is the course library's reference implementation and is switched "
            f"off while your work is graded. Write this part yourself ({hint}).")

    refuse.__name__ = refuse.__qualname__ = f"disabled_{name}"
    return refuse


_JAX_HINT = ("jax, jax.numpy, lax and the rest of course.jaxtools — time_jax, compare, "
             "describe_devices, verify_parallel — are yours to use")


@contextlib.contextmanager
def reference_disabled(names: Sequence[str] = REFERENCE_NAMES,
                       jax_names: Sequence[str] = JAX_REFERENCE_NAMES) -> Iterator[None]:
    """Within the block, ``course.<name>`` (and the same name in the module that defines it)
    raise RuntimeError; whatever was bound before is restored in ``finally``.

    ``jax_names`` are switched off the same way in ``course.jaxtools`` and its modules, if
    imported, and so is every notebook variable (``__main__``) holding one of those library
    objects: after ``from course.jaxtools import shard_batch`` the notebook's ``shard_batch``
    raises too (a library function with no internal helper to switch off).
    """
    saved: list[tuple[Any, str, Any]] = []
    main_ns: dict[str, Any] = getattr(sys.modules.get("__main__"), "__dict__", {})
    main_saved: list[tuple[str, Any]] = []
    try:
        for name in names:
            stub = _disabled(name)
            for mod in _MODULES:
                if hasattr(mod, name):
                    saved.append((mod, name, getattr(mod, name)))
                    setattr(mod, name, stub)
        genuine: dict[int, Callable[..., Any]] = {}
        for mod in filter(None, map(sys.modules.get, _JAX_MODULES)):
            for name in jax_names:
                if hasattr(mod, name):
                    value, stub = getattr(mod, name), _disabled(name, "course.jaxtools",
                                                                _JAX_HINT)
                    if _from_course(value):
                        genuine[id(value)] = stub
                    saved.append((mod, name, value))
                    setattr(mod, name, stub)
        for var, value in list(main_ns.items()):
            if id(value) in genuine and not var.startswith("__"):
                main_saved.append((var, value))
                main_ns[var] = genuine[id(value)]
        yield
    finally:
        for var, value in reversed(main_saved):
            main_ns[var] = value
        for mod, name, value in reversed(saved):
            setattr(mod, name, value)


def require_own_node(cls: Any, name: str) -> None:
    """Fail unless ``cls`` is the student's own :class:`course.sim.Node` subclass: defined
    outside the ``course`` package, with no base class from the library but ``Node``."""
    from course.sim import Node

    if not isinstance(cls, type) or not issubclass(cls, Node):
        raise AssertionError(f"`{name}` must be a class derived from Node (class {name}(Node): "
                             f"...), got {cls!r:.100}")
    for base in cls.__mro__:
        if base in (Node, object):
            continue
        if _from_course(base) or str(getattr(base, "__module__", "")).startswith("course"):
            raise AssertionError(
                f"`{name}` is or derives from the course library's {base.__module__}."
                f"{base.__qualname__}, the reference answer: write `{name}` yourself on Node.")


def mutex_case(key: str, algorithm: Any, config: Any, *, seeds: Sequence[int] = (),
               explore: bool = False, fairness: bool = True, per_entry: int | None = None,
               visible: bool = True, call: str | None = None, label: str = "",
               hint: str = "") -> Any:
    """One ps3 case (check kind ``mutex``): ``algorithm`` runs under ``config`` on each seed
    and/or through the exhaustive search; safety, liveness, ``fairness`` and ``per_entry``
    messages per CS entry are judged on the recorded behaviour (in the student's kernel for
    a ``visible`` case, by the grader in a grading run)."""
    import functools

    from course.mutex._evidence import record_behaviour

    run = functools.partial(record_behaviour, seeds=tuple(seeds), explore=explore,
                            fairness=fairness)
    run.__name__ = getattr(algorithm, "__name__", "algorithm")  # type: ignore[attr-defined]
    extra: dict[str, Any] = {"want": None} if visible else {}
    return case(key, run, algorithm, config, check="mutex", seeds=list(seeds),
                explore=explore, fairness=fairness, per_entry=per_entry,
                call=call or getattr(algorithm, "__name__", "your algorithm"), label=label,
                hint=hint, **extra)


# ----- plain data: one definition, in course._checks ------------------------------


if in_kernel():  # grade cells import this module: protect them even without the set-up cell
    route_stderr_to_stdout()
