"""The course's nbconvert templates: the feedback page students get (``feedback/``).

``nbgrader_config.py`` calls :func:`configure_feedback`, which puts this folder before
nbgrader's own templates (so both ``nbgrader generate_feedback`` / ``course feedback`` and the
formgrader's "generate feedback" button, which insists on a template named ``feedback``,
render ours), points nbconvert's ``mathjax_url`` at the packaged MathJax
(jupyter-server-mathjax) and registers :func:`check_sentence` as a Jinja filter.

Importing this module imports nothing heavy (no nbgrader, nbconvert or jupyter_server).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

__all__ = ["TEMPLATES", "check_sentence", "configure_feedback", "mathjax_file"]

#: This folder: the extra template base directory (it holds ``feedback/``).
TEMPLATES = Path(__file__).resolve().parent

_COMMENT = re.compile(r"^\s*#+\s?")
# A sentence ends at . ! or ? followed by the end or by a space and no lower-case letter
# ("e.g. a trace" goes on; "... = 5. Then" ends).
_END = re.compile(r"[.!?](?=$|\s+(?![a-z]))")


def check_sentence(source: Any) -> str:
    """The first sentence of the comment (or markdown) that opens a grade cell.

    ``"# Checks tick() and send().\\n# More.\\ncode"`` -> ``"Checks tick() and send()."``.
    Comment lines (or a markdown cell's first paragraph) are joined; the empty string when
    the cell opens with neither.
    """
    text = "".join(source) if isinstance(source, list) else str(source or "")
    lines = text.split("\n")
    words: list[str] = []
    if lines and _COMMENT.match(lines[0]):  # a code cell: its leading comment block
        for line in lines:
            if not _COMMENT.match(line):
                break
            words.append(_COMMENT.sub("", line).strip())
    elif text.strip() and not text.lstrip().startswith(("import ", "from ")):
        for line in text.strip().split("\n"):  # markdown: the first paragraph
            if not line.strip():
                break
            words.append(line.strip().lstrip("#").strip())
    joined = " ".join(w for w in words if w)
    m = _END.search(joined)
    return joined[: m.end()] if m else joined


def mathjax_file() -> Path | None:
    """``MathJax.js`` of the installed jupyter-server-mathjax (found without importing it:
    its package imports jupyter_server), or None when it is not installed."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "MathJax.js"
    return path if path.is_file() else None


def _nbgrader_templates() -> str:
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nbgrader is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return str(root / "server_extensions" / "formgrader" / "templates")


def configure_feedback(c: Any) -> None:
    """Set the feedback page up on an nbgrader/traitlets config object ``c``."""
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), _nbgrader_templates()]
    c.HTMLExporter.filters = {"check_sentence": "course.templates.check_sentence"}
    mathjax = mathjax_file()
    if mathjax is not None:
        # The page tries the server's copy first when it is served (see feedback/index.html.j2).
        c.HTMLExporter.mathjax_url = mathjax.as_uri()
