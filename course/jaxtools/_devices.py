"""Device helpers: force N CPU devices, describe devices, shard a batch, run with N devices.

Rules:

* The number of CPU devices is fixed when JAX initializes its backends (the first
  ``jax.devices()``, array creation, ``jit`` call, ...).  ``ensure_cpu_devices(n)`` can
  only change it *before* that moment; afterwards it either confirms the count or
  raises ``RuntimeError`` explaining how to restart with ``JAX_NUM_CPU_DEVICES=n``.
* ``shard_batch`` only reshapes (``(B, ...) -> (n, B // n, ...)``); it never pads or
  drops data and it rejects batches that do not divide evenly.
* ``run_with_cpu_devices`` runs Python code in a fresh interpreter, the only way to
  try another device count from a process (or notebook kernel) that already started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import jax

ENV_VAR = "JAX_NUM_CPU_DEVICES"


def _backends_initialized() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - private module moved
        return True
    check = getattr(xla_bridge, "backends_are_initialized", None)
    if check is None:  # pragma: no cover - older JAX
        return bool(getattr(xla_bridge, "_backends", {}))
    return bool(check())


def _restart_message(n: int, have: int) -> str:
    return (
        f"JAX already started with {have} CPU device(s), but {n} were requested. "
        f"The CPU device count cannot change after JAX initializes. Set {ENV_VAR}={n} "
        f"before starting Python (e.g. `{ENV_VAR}={n} jupyter lab`, or add "
        f'"env": {{"{ENV_VAR}": "{n}"}} to the kernel spec), then restart the kernel; '
        f"or call ensure_cpu_devices({n}) right after `import jax`, before any computation."
    )


def ensure_cpu_devices(n: int) -> list[Any]:
    """Make JAX expose ``n`` CPU devices and return them.

    Works only before JAX initialized its backends; afterwards returns the devices if
    the count already equals ``n`` and raises ``RuntimeError`` otherwise.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"Number of CPU devices must be a positive int, got {n!r}")
    if not _backends_initialized():
        try:
            jax.config.update("jax_num_cpu_devices", n)
        except AttributeError:  # pragma: no cover - JAX < 0.4.38: no such option
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}"
        except RuntimeError:  # lost a race with another initializer
            pass
    devices = jax.devices("cpu")
    if len(devices) != n:
        raise RuntimeError(_restart_message(n, len(devices)))
    return devices


def describe_devices() -> str:
    """Readable summary of the backend, process and every visible device."""
    devices = jax.devices()
    lines = [
        f"JAX {jax.__version__}, backend {jax.default_backend()!r}: "
        f"{len(devices)} device(s) in total, {jax.local_device_count()} local, "
        f"process {jax.process_index()} of {jax.process_count()}"
    ]
    for d in devices:
        kind = getattr(d, "device_kind", "?")
        lines.append(f"  [{d.id}] {d.platform} {kind!r} process={d.process_index} {d}")
    return "\n".join(lines)


def shard_batch(x: Any, n_devices: int | None = None) -> Any:
    """Reshape the leading axis ``B`` of ``x`` (or of every leaf of a pytree) to ``(n, B/n)``.

    ``n_devices`` defaults to ``jax.local_device_count()``.  Raises ``ValueError`` naming
    the shape and the device count when ``B`` is not a multiple of ``n_devices``.
    """
    n = jax.local_device_count() if n_devices is None else n_devices
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n_devices must be a positive int, got n_devices={n_devices!r}")

    def one(leaf: Any) -> Any:
        shape = getattr(leaf, "shape", None)
        if shape is None or len(shape) == 0:
            raise ValueError(
                f"Cannot shard {type(leaf).__name__} of shape {shape}: "
                "it needs a leading batch axis"
            )
        batch = shape[0]
        if batch % n:
            lower, upper = batch - batch % n, batch + (n - batch % n)
            raise ValueError(
                f"Cannot shard batch of shape {tuple(shape)} over {n} devices: leading axis "
                f"{batch} is not a multiple of {n} (trim to {lower} or pad to {upper})"
            )
        return leaf.reshape((n, batch // n, *shape[1:]))

    return jax.tree_util.tree_map(one, x)


def unshard_batch(x: Any) -> Any:
    """Inverse of :func:`shard_batch`: merge the two leading axes ``(n, b, ...) -> (n*b, ...)``."""

    def one(leaf: Any) -> Any:
        shape: tuple[int, ...] = getattr(leaf, "shape", ())
        if len(shape) < 2:
            raise ValueError(f"Cannot unshard shape {shape}: need (n_devices, batch, ...)")
        return leaf.reshape((shape[0] * shape[1], *shape[2:]))

    return jax.tree_util.tree_map(one, x)


def run_with_cpu_devices(code: str, n_devices: int, timeout: float = 60.0) -> str:
    """Run ``code`` with ``python -c`` in a fresh process with ``n_devices`` CPU devices.

    Returns its stdout.  Raises ``RuntimeError`` with stderr when it fails and
    ``subprocess.TimeoutExpired`` (after killing it) when it takes over ``timeout`` s.
    """
    if not isinstance(n_devices, int) or isinstance(n_devices, bool) or n_devices < 1:
        raise ValueError(f"n_devices must be a positive int, got n_devices={n_devices!r}")
    env = dict(os.environ, JAX_PLATFORMS="cpu", **{ENV_VAR: str(n_devices)})
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"Subprocess with {n_devices} CPU device(s) failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    return proc.stdout
