"""Two JAX processes (2 CPU devices each) run one psum across the process boundary."""

from __future__ import annotations

import pytest

from course.jaxtools import walk_reference
from course.jaxtools.multiprocess import ProcessResult, free_port, main, run_multiprocess


@pytest.mark.timeout(150)
def test_two_processes_match_single_process_reference() -> None:
    results = run_multiprocess(walkers=64, steps=20, seed=3, timeout=120)
    assert [r.process_id for r in results] == [0, 1]
    reference = walk_reference(64, 20, seed=3)
    for r in results:
        assert isinstance(r, ProcessResult)
        assert (r.global_devices, r.local_devices) == (4, 2)
        assert r.msd == reference
        assert r.total == round(reference * 64)
        assert f"process {r.process_id}" in repr(r)


@pytest.mark.timeout(30)
def test_launcher_kills_workers_on_timeout() -> None:
    # 50 ms is not enough to even import JAX, so the launcher must kill both workers.
    with pytest.raises(TimeoutError, match="killed"):
        run_multiprocess(walkers=64, steps=20, timeout=0.05)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="got 0 and 2"):
        run_multiprocess(num_processes=0)
    with pytest.raises(SystemExit):
        main(["--process-id", "0"])  # --port missing


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
