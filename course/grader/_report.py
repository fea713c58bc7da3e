"""``course report ASSIGNMENT``: what the class got right and wrong, for the instructor.

Read from the gradebook (scores), the autograded notebooks (failure messages) and the outcome
table of the last ``course grade`` (who has no score):

* per question (graded cell): points distribution, pass rate (full points), and the most
  frequent failure messages, grouped after replacing numbers by ``#`` so that "expected 3, got
  2" and "expected 5, got 4" count as one misconception;
* students without a score (their outcome says why) and students with manual grading still
  pending: a CSV exported now would show their written answers as 0, not as "not graded";
* students the judge flagged (signs of tampering) and pairs ``course similarity`` finds;
* a score histogram and a pass-rate chart (PNG) and one self-contained HTML page embedding
  them; :meth:`Report.markdown` is what the command prints.
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ._outcomes import read_outcomes
from ._similarity import Match, find_similar

__all__ = ["Question", "Report", "build_report", "write_report"]

NUMBER = re.compile(r"(?<![\w.])-?\d+(\.\d+)?\b")


@dataclass
class Question:
    """One graded cell over the class: ``scores`` per student, failure messages counted."""

    name: str
    max_score: float
    auto: bool
    scores: dict[str, float] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)

    def __repr__(self) -> str:
        return f"Question({self.name!r}, {len(self.scores)} scores)"

    @property
    def pass_rate(self) -> float:
        full = [s for s in self.scores.values() if s >= self.max_score]
        return len(full) / len(self.scores) if self.scores else 0.0

    def distribution(self) -> dict[float, int]:
        return dict(sorted(Counter(self.scores.values()).items()))


@dataclass
class Report:
    assignment: str
    questions: dict[str, Question] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    max_total: float = 0.0
    no_score: dict[str, str] = field(default_factory=dict)  # student -> outcome and why
    manual_pending: dict[str, list[str]] = field(default_factory=dict)
    flagged: dict[str, list[str]] = field(default_factory=dict)  # the judge's tamper flags
    similar: list[Match] = field(default_factory=list)  # course similarity's pairs

    def __repr__(self) -> str:
        return f"Report({self.assignment!r}, {len(self.totals)} students)"

    def markdown(self, top: int = 3) -> str:
        n = len(self.totals)
        out = [f"# {self.assignment}: {n} graded submission(s)", ""]
        if self.totals:
            vals = sorted(self.totals.values())
            out.append(f"Total (auto + manual so far) out of {self.max_total:g}: median "
                       f"{vals[len(vals) // 2]:g}, min {vals[0]:g}, max {vals[-1]:g}")
            out.append("")
        out += ["| question | points | pass rate | distribution (score: students) |",
                "| --- | --- | --- | --- |"]
        for q in self.questions.values():
            dist = ", ".join(f"{k:g}: {v}" for k, v in q.distribution().items())
            kind = "" if q.auto else " (manual)"
            out.append(f"| {q.name}{kind} | {q.max_score:g} | {q.pass_rate:.0%} | {dist} |")
        out.append("")
        failing = [q for q in self.questions.values() if q.failures]
        if failing:
            out += ["## Most frequent failures", ""]
            for q in failing:
                out.append(f"* **{q.name}**")
                out += [f"    * {c}x `{msg}`" for msg, c in q.failures.most_common(top)]
            out.append("")
        if self.no_score:
            out += ["## No score", ""]
            out += [f"* {s}: {why}" for s, why in sorted(self.no_score.items())]
            out.append("")
        if self.flagged:
            out += [f"## Flagged: signs of tampering ({len(self.flagged)} students; their "
                    f"scores are the judge's, unchanged)", ""]
            out += [f"* {s}: {'; '.join(f[:160] for f in flags[:4])}"
                    + (f" (+{len(flags) - 4} more)" if len(flags) > 4 else "")
                    for s, flags in sorted(self.flagged.items())]
            out.append("")
        if self.similar:
            out += ["## Possibly copied answer code (course similarity; flags, not scores)", ""]
            out += [f"* {m.left} ~ {m.right}: {m.share[0]:.0%} / {m.share[1]:.0%} shared"
                    for m in self.similar]
            out.append("")
        if self.manual_pending:
            out += [f"## Manual grading pending ({len(self.manual_pending)} students: their "
                    f"exported totals are not final)", ""]
            out += [f"* {s}: {', '.join(cells)}" for s, cells in
                    sorted(self.manual_pending.items())]
            out.append("")
        return "\n".join(out)


def _message(output: dict[str, object]) -> str:
    from course.nbplugins import ANSI

    text = ANSI.sub("", f"{output.get('ename', '')}: {output.get('evalue', '')}")
    first = text.strip().splitlines()[0] if text.strip() else "error"
    return NUMBER.sub("#", first)[:160]


def build_report(root: Path, assignment: str, db_url: str) -> Report:
    import nbformat
    from nbgrader.api import MissingEntry

    from ._batch import open_gradebook

    rep = Report(assignment)
    with open_gradebook(db_url) as gb:
        try:
            assign = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"Assignment {assignment!r} is not in the gradebook {db_url}: "
                             f"run `course grade {assignment}` first") from None
        for nb in assign.notebooks:
            for cell in nb.grade_cells:
                rep.questions[cell.name] = Question(cell.name, float(cell.max_score),
                                                    cell.cell_type == "code")
        rep.max_total = sum(q.max_score for q in rep.questions.values())
        for sub in assign.submissions:
            total = 0.0
            for nb in sub.notebooks:
                for g in nb.grades:
                    q = rep.questions[g.name]
                    if g.needs_manual_grade:
                        rep.manual_pending.setdefault(sub.student.id, []).append(g.name)
                    if g.auto_score is None and g.manual_score is None:
                        continue
                    q.scores[sub.student.id] = float(g.score)
                    total += float(g.score)
            rep.totals[sub.student.id] = total
    for student, outcome in read_outcomes(root, assignment).items():
        if outcome.flags:
            rep.flagged[student] = list(outcome.flags)
        if not outcome.outcome.scored:
            rep.no_score[student] = f"{outcome.outcome.value}" + (
                f" ({outcome.detail})" if outcome.detail else "")
            rep.totals.pop(student, None)
    for path in sorted((root / "autograded").glob(f"*/{assignment}/*.ipynb")):
        student = path.parent.parent.name
        if student not in rep.totals:
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            asked = rep.questions.get(gid or "")
            if asked is None or not asked.auto or \
                    asked.scores.get(student, 0.0) >= asked.max_score:
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                asked.failures[_message(errors[-1])] += 1
    if (root / "submitted").is_dir():
        rep.similar = find_similar(root, assignment)
    return rep


def _figures(rep: Report, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(list(rep.totals.values()), bins=min(20, max(5, int(rep.max_total) + 1)),
            range=(0, rep.max_total or 1), color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"total score (of {rep.max_total:g})", ylabel="students",
           title=f"{rep.assignment}: scores")
    paths.append(folder / f"{rep.assignment}-scores.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    names = list(rep.questions)
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1))
    ax.barh(names[::-1], [rep.questions[n].pass_rate * 100 for n in names[::-1]],
            color="#55a868")
    ax.set(xlim=(0, 100), xlabel="students with full points (%)",
           title=f"{rep.assignment}: pass rate per question")
    paths.append(folder / f"{rep.assignment}-pass-rates.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def write_report(rep: Report, folder: Path) -> Path:
    """PNG charts and one self-contained HTML page in ``folder``; the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    images = "".join(
        f'<img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}">' for p in _figures(rep, folder))
    import mistune  # nbconvert's Markdown renderer

    body = mistune.create_markdown(escape=True, plugins=["table"])(rep.markdown())
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:"
             "collapse}td,th{border:1px solid #ccc;padding:.2em .5em}img{max-width:48%}")
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(rep.assignment)} "
            f"report</title><style>{style}</style><body>{images}{body}</body>")
    path = folder / f"{rep.assignment}-report.html"
    path.write_text(page, encoding="utf-8")
    return path
