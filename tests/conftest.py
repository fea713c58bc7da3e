"""Shared test settings: headless matplotlib, reproducible hypothesis runs."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# CI runs derandomized so a red build is reproducible; the failing example is printed.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

#: Seconds the heavy files take in `make test` (two workers on two cores, a quiet machine).
#: With --dist loadfile, xdist hands out whole files in the collection order; these come
#: first, heaviest first, so that the files still running at the end are short ones and
#: neither worker idles long waiting for the other.
HEAVY = {
    "tests/test_pipeline_ps4.py": 300, "tests/test_grade_rerun.py": 110,
    "tests/test_pipeline_ps2.py": 105, "tests/test_browser.py": 90,
    "tests/test_cluster.py": 85, "tests/test_protocol_attacks.py": 75,
    "tests/test_sandbox_grading.py": 75, "tests/test_hub.py": 75,
    "tests/test_pipeline_ps3.py": 70, "tests/test_pipeline_ps1.py": 65,
    "tests/test_optional_parts.py": 60,
    "tests/test_source_notebooks.py": 40, "tests/test_mutex_explore.py": 28,
    "tests/test_jax_verify.py": 26, "tests/test_authoring.py": 23,
    "tests/test_release.py": 20, "tests/test_similarity.py": 15, "tests/test_withhold.py": 13,
}


def pytest_configure(config):
    # xdist otherwise sorts the files by their number of tests, which would start the hub,
    # browser and cluster tests (few tests, long ones) last.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(session, config, items):
    def weight(item):
        try:
            return -HEAVY.get(item.path.relative_to(config.rootpath).as_posix(), 0)
        except ValueError:  # outside the repository
            return 0

    items.sort(key=weight)  # stable: the other files, and each file's tests, keep their order


def pytest_runtest_teardown(item, nextitem):
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session", autouse=True)
def _course_templates(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One folder for the whole session, shared by the xdist workers (their base temporary
    folders are siblings): tests/pipeline.py generates each distinct course set-up once
    there and copies it (pipeline.TEMPLATES)."""
    import pipeline

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    pipeline.TEMPLATES = shared / "course-templates"
