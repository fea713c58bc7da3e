"""Timing harness for JAX code: ``time_jax`` and ``TimingResult``.

Rules of a measurement:

* JAX dispatches asynchronously, so every call is followed by
  ``jax.block_until_ready`` on the *whole* output pytree (NumPy outputs pass through).
* The first call (trace + compile + run) is timed on its own and never mixed with the
  steady state.  ``warmup`` further calls are run and discarded.
* A steady-state sample times ``number`` back-to-back calls and stores the time per
  call.  With ``number=None`` it is chosen like ``timeit``: the smallest of 1, 2, 5,
  10, 20, ... for which one sample takes at least ``MIN_SAMPLE_S``.
* Recompilation is detected with JAX's own monitoring events (every trace and every
  backend compile emits one) and, for jitted functions, with ``fn._cache_size()``.
  Any trace or compile after the first call (warmup included) sets ``recompiled=True``.
* The garbage collector is disabled while samples are taken (as ``timeit`` does).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jax
import jax.monitoring
import numpy as np

MIN_SAMPLE_S = 2e-4
_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclass(eq=False)  # identity equality: nested counters must stay distinct
class CompileCounter:
    """Traces and backend compiles seen while active (one global JAX listener feeds all)."""

    traces: int = 0
    compiles: int = 0


_active: list[CompileCounter] = []
_lock = threading.Lock()
_listener_installed = False


def _on_duration_event(event: str, duration_secs: float, **_: Any) -> None:
    if event not in (_TRACE_EVENT, _COMPILE_EVENT):
        return
    with _lock:
        for counter in _active:
            if event == _TRACE_EVENT:
                counter.traces += 1
            else:
                counter.compiles += 1


def _install_listener() -> None:
    global _listener_installed
    with _lock:
        if not _listener_installed:
            jax.monitoring.register_event_duration_secs_listener(_on_duration_event)
            _listener_installed = True


@contextmanager
def count_compiles() -> Iterator[CompileCounter]:
    """Context manager counting JAX traces and backend compiles inside the block."""
    _install_listener()
    counter = CompileCounter()
    with _lock:
        _active.append(counter)
    try:
        yield counter
    finally:
        with _lock:
            _active.remove(counter)


def _cache_size(fn: Callable[..., Any]) -> int | None:
    size = getattr(fn, "_cache_size", None)
    if not callable(size):
        return None
    try:
        return int(size())
    except Exception:  # private API: never let it break a measurement
        return None


def format_seconds(seconds: float) -> str:
    """Human readable duration: ``'12.3 ms'``, ``'4.56 µs'``."""
    if not np.isfinite(seconds):
        return str(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


@dataclass(frozen=True)
class TimingResult:
    """Result of :func:`time_jax`; all times are in seconds per call."""

    name: str
    first: float
    samples: tuple[float, ...]
    number: int
    warmup: int
    first_traces: int = 0
    first_compiles: int = 0
    steady_traces: int = 0
    steady_compiles: int = 0
    cache_growth: int | None = None

    @property
    def repeat(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def min(self) -> float:
        return float(np.min(self.samples))

    @property
    def q25(self) -> float:
        return float(np.percentile(self.samples, 25))

    @property
    def q75(self) -> float:
        return float(np.percentile(self.samples, 75))

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    @property
    def compile_overhead(self) -> float:
        """First call minus the steady-state median: roughly the trace+compile cost."""
        return self.first - self.median

    @property
    def recompiled(self) -> bool:
        """True when JAX traced or compiled again after the first call."""
        grew = self.cache_growth is not None and self.cache_growth > 0
        return self.steady_traces > 0 or self.steady_compiles > 0 or grew

    def __repr__(self) -> str:
        warn = ""
        if self.recompiled:
            warn = (
                f", RECOMPILED (traces={self.steady_traces}, compiles={self.steady_compiles}"
                f", cache growth={self.cache_growth})"
            )
        return (
            f"TimingResult({self.name!r}: first call {format_seconds(self.first)}, "
            f"median {format_seconds(self.median)} (IQR {format_seconds(self.iqr)}), "
            f"min {format_seconds(self.min)}, {self.repeat} samples x {self.number} loops"
            f"{warn})"
        )

    def plot(self, ax: Any = None) -> Any:
        """Plot the samples, their median and the first call (log scale); return the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        idx = np.arange(1, self.repeat + 1)
        ax.plot(idx, self.samples, "o", label=f"steady samples ({self.number} loops each)")
        ax.axhline(self.median, color="C1", label=f"median {format_seconds(self.median)}")
        ax.axhspan(self.q25, self.q75, color="C1", alpha=0.2, label="IQR")
        first = f"first call {format_seconds(self.first)}"
        ax.plot([0], [self.first], "s", color="C3", label=first)
        ax.set_yscale("log")
        ax.set_xlabel("sample (0 = first call)")
        ax.set_ylabel("seconds per call")
        ax.set_title(self.name + (" (recompiled!)" if self.recompiled else ""))
        ax.legend(fontsize="small")
        return ax


def _block(out: Any) -> None:
    """Block on ``out``: a single array directly (cheaper), any other pytree leaf by leaf."""
    block = getattr(out, "block_until_ready", None)
    if block is not None:
        block()
    else:
        jax.block_until_ready(out)


def _call_blocked(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _block(fn(*args, **kwargs))


def _run(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], n: int) -> float:
    timer, block = time.perf_counter, _block
    start = timer()
    for _ in range(n):
        block(fn(*args, **kwargs))
    return timer() - start


def _calibrate(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """Smallest number in 1, 2, 5, 10, 20, 50, ... with one sample >= MIN_SAMPLE_S."""
    base = 1
    while True:
        for mult in (1, 2, 5):
            number = base * mult
            if _run(fn, args, kwargs, number) >= MIN_SAMPLE_S:
                return number
        base *= 10


def time_jax(
    fn: Callable[..., Any],
    *args: Any,
    repeat: int = 7,
    warmup: int = 1,
    number: int | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> TimingResult:
    """Time ``fn(*args, **kwargs)``: first call separately, then ``repeat`` samples.

    Each sample runs ``number`` calls (auto-chosen when ``None``), blocking on the full
    output pytree after every call.  ``repeat``, ``warmup``, ``number`` and ``name``
    are consumed here, never passed to ``fn``.  See the module docstring for the rules.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got repeat={repeat}")
    if warmup < 0:
        raise ValueError(f"Negative warmup {warmup}")
    if number is not None and number < 1:
        raise ValueError(f"number must be >= 1 or None, got number={number}")
    label = name if name is not None else getattr(fn, "__name__", repr(fn))

    with count_compiles() as first_count:
        start = time.perf_counter()
        _call_blocked(fn, args, kwargs)
        first = time.perf_counter() - start

    size_before = _cache_size(fn)
    gc_was_enabled = gc.isenabled()
    samples: list[float] = []
    with count_compiles() as steady_count:
        for _ in range(warmup):
            _call_blocked(fn, args, kwargs)
        if number is None:
            number = _calibrate(fn, args, kwargs)
        gc.disable()
        try:
            for _ in range(repeat):
                samples.append(_run(fn, args, kwargs, number) / number)
        finally:
            if gc_was_enabled:
                gc.enable()
    size_after = _cache_size(fn)
    growth = None if size_before is None or size_after is None else size_after - size_before

    return TimingResult(
        name=label,
        first=first,
        samples=tuple(samples),
        number=number,
        warmup=warmup,
        first_traces=first_count.traces,
        first_compiles=first_count.compiles,
        steady_traces=steady_count.traces,
        steady_compiles=steady_count.compiles,
        cache_growth=growth,
    )


@dataclass(frozen=True)
class Comparison:
    """Timings of several implementations of the same computation (see :func:`compare`).

    Speedups are relative to ``baseline`` (default: the first entry), using medians.
    """

    results: dict[str, TimingResult]
    baseline: str

    def speedup(self, name: str) -> float:
        """Baseline median divided by the median of ``name`` (>1 means faster)."""
        if name not in self.results:
            raise KeyError(f"No timing named {name!r}; have {list(self.results)}")
        return self.results[self.baseline].median / self.results[name].median

    def table(self) -> str:
        """Plain-text table: first call, median, IQR, min, speedup, recompiled."""
        head = ("name", "first call", "median", "IQR", "min", "speedup", "recompiled")
        rows = [head]
        for name, r in self.results.items():
            rows.append(
                (
                    name,
                    format_seconds(r.first),
                    format_seconds(r.median),
                    format_seconds(r.iqr),
                    format_seconds(r.min),
                    f"{self.speedup(name):.2f}x",
                    "YES" if r.recompiled else "no",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self) -> str:
        return f"Comparison(baseline={self.baseline!r})\n{self.table()}"

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of medians (IQR as error bars) next to first calls; log scale."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        names = list(self.results)
        x = np.arange(len(names))
        res = [self.results[n] for n in names]
        med = np.array([r.median for r in res])
        err = np.array([[r.median - r.q25 for r in res], [r.q75 - r.median for r in res]])
        first = np.array([r.first for r in res])
        ax.bar(x - 0.2, med, width=0.4, yerr=err, label="steady median (IQR)")
        ax.bar(x + 0.2, first, width=0.4, label="first call (compile + run)")
        ax.set_xticks(x, names)
        ax.set_yscale("log")
        ax.set_ylabel("seconds per call")
        ax.legend(fontsize="small")
        return ax


def compare(
    fns: dict[str, Callable[..., Any]],
    *args: Any,
    repeat: int = 7,
    warmup: int = 1,
    number: int | None = None,
    baseline: str | None = None,
    **kwargs: Any,
) -> Comparison:
    """Time every ``fns[name](*args, **kwargs)`` with :func:`time_jax` and compare them.

    Typical use: ``compare({"numpy": f_np, "eager": f, "jit": jax.jit(f)}, x)``.
    """
    if not fns:
        raise ValueError(f"Nothing to compare: fns={fns!r}")
    base = next(iter(fns)) if baseline is None else baseline
    if base not in fns:
        raise ValueError(f"baseline {base!r} is not one of {list(fns)}")
    results = {
        name: time_jax(fn, *args, repeat=repeat, warmup=warmup, number=number, name=name, **kwargs)
        for name, fn in fns.items()
    }
    return Comparison(results=results, baseline=base)
