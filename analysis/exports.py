"""Writing the tidy ratings and study summaries as CSV, JSON, LaTeX and Markdown."""
import json
from collections.abc import Sequence

import pandas as pd

from generation.metadata import software_versions

from .stats import StudySummary

FORMATS = ("csv", "json", "latex", "markdown")
FILE_NAMES = {"json": "summary.json", "latex": "summary.tex", "markdown": "summary.md"}
TABLE_HEADER = ("Study", "Annotators", "Items", "Baseline", "Ours", "Ours − baseline [95% CI]", "p (t)", "p (Wilcoxon)")


def ratings_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def summaries_json(summaries: Sequence[StudySummary], protocols: Sequence[dict]) -> str:
    """A JSON document: ``studies`` (one summary each, with its ``protocol``) and ``software``."""
    studies = [{**summary.as_dict(), "protocol": protocol} for summary, protocol in zip(summaries, protocols)]
    return json.dumps({"studies": studies, "software": software_versions()}, indent=2, ensure_ascii=False) + "\n"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _cells(summary: StudySummary) -> list[str]:
    low, high = summary.difference_ci
    return [
        summary.study,
        str(summary.annotators),
        str(summary.items),
        f"{_number(summary.baseline.mean)} ± {_number(summary.baseline.sd)}",
        f"{_number(summary.ours.mean)} ± {_number(summary.ours.sd)}",
        f"{summary.difference:+.2f} [{_number(low)}, {_number(high)}]",
        _p(summary.paired_t.p_value),
        _p(summary.wilcoxon.p_value),
    ]


def summaries_markdown(summaries: Sequence[StudySummary]) -> str:
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(_cells(summary)) + " |" for summary in summaries]
    lines.append("")
    lines.append("Means ± SD over all judgments; the difference, its CI and both tests use per-item means.")
    return "\n".join(lines) + "\n"


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def summaries_latex(summaries: Sequence[StudySummary]) -> str:
    """A booktabs table, one row per study."""
    def cell(text: str) -> str:
        return latex_escape(text).replace("±", r"$\pm$").replace("−", "$-$").replace("< ", "$<$ ").replace("–", "--")

    header = " & ".join(cell(name) for name in TABLE_HEADER) + r" \\"
    rows = [" & ".join(cell(text) for text in _cells(summary)) + r" \\" for summary in summaries]
    return "\n".join(
        [
            r"\begin{tabular}{l" + "r" * (len(TABLE_HEADER) - 1) + "}",
            r"\toprule",
            header,
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            "",
        ]
    )
