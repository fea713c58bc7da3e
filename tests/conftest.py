"""Shared test settings: headless matplotlib, reproducible hypothesis runs."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# CI runs derandomized so a red build is reproducible; the failing example is printed.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_runtest_teardown(item, nextitem):
    import matplotlib.pyplot as plt

    plt.close("all")
