"""`make lab` gives students JupyterLab 4 with the nbgrader and ipywidgets front ends."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _listing(*args: str) -> str:
    out = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True,
                         check=True, timeout=120)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)


def test_lab_extensions_enabled():
    text = _listing("labextension", "list")
    for ext in ("@jupyter/nbgrader", "@jupyter-widgets/jupyterlab-manager"):
        assert re.search(rf"{re.escape(ext)} v\S+ enabled OK", text), f"{ext} missing:\n{text}"


def test_nbgrader_server_extensions_enabled():
    text = _listing("server", "extension", "list")
    for ext in ("formgrader", "validate_assignment", "assignment_list"):
        assert re.search(rf"nbgrader\.server_extensions\.{ext}\s+OK", text), ext


def test_jupyterlab_is_version_4():
    import jupyterlab

    assert jupyterlab.__version__.startswith("4."), jupyterlab.__version__
