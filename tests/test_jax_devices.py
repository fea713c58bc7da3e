"""Tests for the device helpers; other device counts run in a fresh subprocess."""

from __future__ import annotations

import json
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.jaxtools import (
    describe_devices,
    ensure_cpu_devices,
    run_with_cpu_devices,
    shard_batch,
    unshard_batch,
)


def test_shard_batch_reshapes_leading_axis() -> None:
    x = np.arange(24).reshape(12, 2)
    y = shard_batch(x, 4)
    assert y.shape == (4, 3, 2)
    np.testing.assert_array_equal(y[1], x[3:6])
    np.testing.assert_array_equal(unshard_batch(y), x)


def test_shard_batch_pytree_and_jax_arrays() -> None:
    tree = {"a": jnp.ones((6, 5)), "b": (np.zeros(6),)}
    out = shard_batch(tree, 3)
    assert out["a"].shape == (3, 2, 5) and out["b"][0].shape == (3, 2)
    assert isinstance(out["a"], jax.Array) and isinstance(out["b"][0], np.ndarray)


def test_shard_batch_defaults_to_local_device_count() -> None:
    n = jax.local_device_count()
    assert shard_batch(np.zeros((2 * n, 3))).shape == (n, 2, 3)


def test_shard_batch_error_names_shape_and_device_count() -> None:
    with pytest.raises(ValueError, match=r"shape \(10, 3\) over 4 devices") as info:
        shard_batch(np.zeros((10, 3)), 4)
    assert "trim to 8 or pad to 12" in str(info.value)


@pytest.mark.parametrize(("x", "n", "needle"), [(np.float32(1.0), 2, "leading batch axis"),
                                                 (np.zeros(4), 0, "n_devices=0"),
                                                 (np.zeros(4), True, "True")])
def test_shard_batch_rejects_bad_input(x: object, n: object, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        shard_batch(x, n)  # type: ignore[arg-type]


def test_unshard_batch_rejects_1d() -> None:
    with pytest.raises(ValueError, match=r"\(5,\)"):
        unshard_batch(np.zeros(5))


def test_describe_devices_lists_every_device() -> None:
    text = describe_devices()
    assert jax.__version__ in text
    assert f"{jax.device_count()} device(s)" in text
    assert text.count("\n") == jax.device_count()


def test_ensure_cpu_devices_after_start() -> None:
    have = len(jax.devices("cpu"))
    assert ensure_cpu_devices(have) == jax.devices("cpu")
    with pytest.raises(RuntimeError, match=f"JAX_NUM_CPU_DEVICES={have + 1}") as info:
        ensure_cpu_devices(have + 1)
    assert "restart" in str(info.value)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_ensure_cpu_devices_rejects_bad_counts(bad: object) -> None:
    with pytest.raises(ValueError, match=str(bad)):
        ensure_cpu_devices(bad)  # type: ignore[arg-type]


FRESH_PROCESS = """
import json, jax, numpy as np
from course.jaxtools import ensure_cpu_devices, shard_batch, describe_devices
devices = ensure_cpu_devices(3)          # before any computation: allowed
again = ensure_cpu_devices(3)            # same count afterwards: fine
try:
    ensure_cpu_devices(2)
    error = None
except RuntimeError as err:
    error = str(err)
print(json.dumps({"n": len(devices), "again": len(again), "local": jax.local_device_count(),
                  "sharded": list(shard_batch(np.zeros((6, 2))).shape), "error": error,
                  "described": describe_devices().count("cpu")}))
"""


def test_fresh_process_gets_requested_count() -> None:
    out = json.loads(run_with_cpu_devices(FRESH_PROCESS, n_devices=1, timeout=60))
    assert out["n"] == 3 and out["again"] == 3 and out["local"] == 3
    assert out["sharded"] == [3, 2, 2]
    assert "JAX_NUM_CPU_DEVICES=2" in out["error"]
    assert out["described"] >= 3


def test_run_with_cpu_devices_reports_failures() -> None:
    with pytest.raises(RuntimeError, match="exit 3"):
        run_with_cpu_devices("import sys; sys.stderr.write('boom'); sys.exit(3)", 2)
    with pytest.raises(subprocess.TimeoutExpired):
        run_with_cpu_devices("import time; time.sleep(30)", 1, timeout=0.5)
    with pytest.raises(ValueError, match="0"):
        run_with_cpu_devices("pass", 0)
