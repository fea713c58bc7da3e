"""Warm the JAX compilation cache with the instructor's notebook, before a batch is graded.

Student kernels only *read* the persistent cache (a cache they could write would let one
submission plant compiled programs that another loads). So ``course grade`` first runs the
trusted ``source/<assignment>`` notebooks once, in the sandbox with the cache bound
read-write: every program the solution compiles is then a cache hit for each submission
that compiles the same program. Only for assignments whose notebooks use JAX, and only when
``JAX_COMPILATION_CACHE_DIR`` is set (``course grade`` sets it).

Run as ``python -m course.grader._warm SOURCE_DIR`` in the grading environment.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["needs_warm_up", "warm_up"]


def needs_warm_up(source_dir: Path, env: dict[str, str]) -> bool:
    if not env.get("JAX_COMPILATION_CACHE_DIR"):
        return False
    return any("import jax" in p.read_text(encoding="utf-8", errors="replace")
               for p in source_dir.glob("*.ipynb"))


def warm_up(source_dir: Path, timeout: int = 600) -> int:
    """Execute every notebook of ``source_dir`` (a copy) with the cache writable; the number
    of notebooks run. Errors in cells do not matter here (the cache is all it is for)."""
    import nbformat
    from nbclient import NotebookClient

    from ._kernel import SandboxKernelManager

    cache = Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.TemporaryDirectory(prefix="course-warm-") as tmp:
        work = Path(tmp) / source_dir.name
        shutil.copytree(source_dir, work)
        for path in sorted(work.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            km = SandboxKernelManager(jax_cache=str(cache), jax_cache_writable=True)
            client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True,
                                    resources={"metadata": {"path": str(work)}})
            client.execute(cleanup_kc=True)
            count += 1
    return count


if __name__ == "__main__":
    n = warm_up(Path(sys.argv[1]))
    print(f"JAX cache warmed with {n} instructor notebook(s) of {sys.argv[1]}")
