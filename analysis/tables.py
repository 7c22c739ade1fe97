"""The results table, one row per study: its header (in the studies' own labels), its cells (written by
``analysis.numbers``, the same on the web page, in ``summary.json``, Markdown and LaTeX), its notes, and the Markdown
and LaTeX documents.

LaTeX comes in two floats for a two-column paper: ``summary.tex``, a ``table`` that fits ``\\columnwidth`` (study,
both conditions' means, the difference with its CI, the adjusted p), and ``summary-wide.tex``, a ``table*`` with
every column. Both use booktabs rules and siunitx ``S`` columns (numbers aligned on the decimal point), are shrunk
to that width only when long study names or labels would make them wider, and need
``\\usepackage{booktabs,siunitx,graphicx}``.
"""

from collections.abc import Sequence

from . import numbers
from .labels import DEFAULT_LABELS, Labels, label_notes, shared_labels
from .latex import latex_escape
from .stats.multiplicity import METHODS
from .stats.report import StudyReport

ADJUSTED_NAMES = {"holm": "Holm", "bh": "BH"}
#: Each column's key, in the wide table's order; the narrow table's columns.
COLUMNS = ("study", "annotators", "items", "baseline", "ours", "difference", "shares", "d_z", "p", "p_adjusted")
#: The narrow table's columns; its condition columns show the means alone (the SDs are in the wide table).
NARROW_COLUMNS = ("study", "baseline_mean", "ours_mean", "difference", "p_adjusted")
#: Columns of numbers that siunitx aligns on the decimal point, and their format (sign, digits before and after).
NUMERIC_FORMATS = {
    "annotators": "4.0",
    "items": "4.0",
    "baseline_mean": "1.2",
    "ours_mean": "1.2",
    "d_z": "-1.2",
    "p": "<1.3",
    "p_adjusted": "<1.3",
}
LATEX_FILES = {"narrow": "summary.tex", "wide": "summary-wide.tex"}


def table_header(adjustment: str = "holm", labels: Labels = DEFAULT_LABELS) -> tuple[str, ...]:
    """The column names, the conditions named by ``labels``."""
    return (
        "Study",
        "Annotators",
        "Items",
        labels.baseline,
        labels.ours,
        f"{labels.difference} [95% CI]",
        "Win / tie / loss %",
        "d_z",
        "p (mixed)",
        f"p ({ADJUSTED_NAMES[adjustment]})",
    )


def table_cells(report: StudyReport) -> list[str]:
    """One study's row: means ± SD over judgments, the mixed-model difference and CI, shares, d_z, p, adjusted p."""
    effect = report.mixed_model.effect
    shares = report.descriptives.shares
    base, ours = report.descriptives.baseline, report.descriptives.ours
    return [
        report.study,
        str(report.counts.annotators),
        str(report.counts.items),
        f"{numbers.number(base.mean)} ± {numbers.number(base.sd)}",
        f"{numbers.number(ours.mean)} ± {numbers.number(ours.sd)}",
        f"{numbers.signed(effect.estimate)} {numbers.interval(*effect.ci)}",
        " / ".join(numbers.percent(share) for share in (shares.win, shares.tie, shares.loss)),
        numbers.number(report.effect_sizes.d_z),
        numbers.p_value(effect.p),
        numbers.p_value(report.p_adjusted),
    ]


def table_notes(reports: Sequence[StudyReport], labels: Sequence[Labels]) -> list[str]:
    """What the table's reader must know: the methods, and per study what changes how to read its row (a simplified
    or singular model, a fit that did not converge, exclusions, labels the header cannot show)."""
    method = reports[0].adjustment if reports else "holm"
    shown = shared_labels(labels)
    notes = [
        f"{shown.question}: means ± SD over all judgments. Difference {shown.difference}: linear mixed model per "
        "judgment with crossed random intercepts for annotators and items (REML, Satterthwaite df); win / tie / "
        f"loss: shares of judgments where {shown.ours} scored higher / the same / lower; d_z over per-item mean "
        f"differences; p adjusted across the studies with {METHODS[method]}."
    ]
    notes += label_notes([report.study for report in reports], labels)
    for report in reports:
        if report.mixed_model.simplified:
            notes.append(f"{report.study}: {report.mixed_model.model}.")
        if report.mixed_model.df_note:
            notes.append(f"{report.study}: {report.mixed_model.df_note}.")
        if not report.mixed_model.converged:
            notes.append(
                f"{report.study}: the mixed model did not converge ({report.mixed_model.convergence}): "
                "its p-value is not to be trusted."
            )
        excluded = report.exclusions
        if report.exclusions_applied and excluded.annotators_removed:
            notes.append(
                f"{report.study}: {excluded.annotators_removed} of {excluded.annotators_before} annotators "
                f"({excluded.ratings_removed} ratings) excluded by the study's rules."
            )
    return notes


def table_dict(reports: Sequence[StudyReport], labels: Sequence[Labels]) -> dict:
    """The table as ``summary.json`` holds it: ``header``, ``rows`` (cells as text) and ``notes``."""
    adjustment = reports[0].adjustment if reports else "holm"
    return {
        "header": list(table_header(adjustment, shared_labels(labels))),
        "rows": [table_cells(report) for report in reports],
        "notes": table_notes(reports, labels),
    }


def summaries_markdown(reports: Sequence[StudyReport], labels: Sequence[Labels] = ()) -> str:
    labels = labels or [DEFAULT_LABELS] * len(reports)
    header = table_header(reports[0].adjustment if reports else "holm", shared_labels(labels))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(table_cells(report)) + " |" for report in reports]
    lines.append("")
    lines += table_notes(reports, labels)
    return "\n".join(lines) + "\n"


LATEX_SYMBOLS = {"±": r"$\pm$", "−": "$-$", "–": "--", "×": r"$\times$", "Δ": r"$\Delta$", "·": r"$\cdot$"}


def latex_text(text: str) -> str:
    """Text for a LaTeX text cell or caption: every special character escaped, the table's symbols in math."""
    escaped = latex_escape(text).replace("< ", "$<$ ").replace(r"d\_z", "$d_z$")
    return "".join(LATEX_SYMBOLS.get(char, char) for char in escaped)


def latex_number(text: str) -> str:
    """A cell of an siunitx ``S`` column: the number as siunitx reads it (ASCII minus, ``<0.001``), text braced."""
    if text == numbers.MISSING:
        return "{--}"
    return text.replace("−", "-").replace("< ", "<")


def _latex_header(name: str, numeric: bool, width: int) -> str:
    """A header cell, broken into lines of about ``width`` characters (a nested tabular) when longer; a name that
    is LaTeX already (``$…$``) is kept as it is."""
    if name.startswith("$"):
        return "{" + name + "}" if numeric else name
    words, lines = name.split(), [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    text = r" \\{} ".join(latex_text(line) for line in lines)
    cell = text if len(lines) == 1 else r"\begin{tabular}[b]{@{}c@{}}" + text + r"\end{tabular}"
    return "{" + cell + "}" if numeric else cell


def _latex_table(
    reports: Sequence[StudyReport], labels: Sequence[Labels], columns: Sequence[str], *, wide: bool
) -> str:
    adjustment = reports[0].adjustment if reports else "holm"
    shown = shared_labels(labels)
    names = dict(zip(COLUMNS, table_header(adjustment, shown), strict=True))
    names.update(baseline_mean=shown.baseline, ours_mean=shown.ours, p="$p$")
    names["p_adjusted"] = rf"$p_{{\mathrm{{{ADJUSTED_NAMES[adjustment]}}}}}$"
    if not wide:
        names["difference"] = "Δ [95% CI]"
    spec = "".join(
        f"S[table-format={NUMERIC_FORMATS[key]}]" if key in NUMERIC_FORMATS else ("l" if key == "study" else "c")
        for key in columns
    )
    header = " & ".join(_latex_header(names[key], key in NUMERIC_FORMATS, 16 if wide else 10) for key in columns)
    rows = []
    for report in reports:
        cells = dict(zip(COLUMNS, table_cells(report), strict=True))
        cells.update(
            baseline_mean=numbers.number(report.descriptives.baseline.mean),
            ours_mean=numbers.number(report.descriptives.ours.mean),
        )
        rows.append(
            " & ".join(
                latex_number(cells[key]) if key in NUMERIC_FORMATS else latex_text(cells[key]) for key in columns
            )
            + r" \\"
        )
    notes = table_notes(reports, labels)
    if not wide:
        notes[0] = f"Δ: {shown.difference}; {shown.baseline} and {shown.ours}: means. " + notes[0]
    environment, width = ("table*", r"\textwidth") if wide else ("table", r"\columnwidth")
    return "\n".join(
        [
            r"% EvalSite results table; the preamble needs \usepackage{booktabs,siunitx,graphicx}.",
            rf"\begin{{{environment}}}[tb]",
            r"\centering",
            r"\footnotesize",
            r"\setlength{\tabcolsep}{3pt}" if wide else r"\setlength{\tabcolsep}{2pt}",
            r"\sisetup{table-align-comparator=false}",
            # shrunk to the width only when long names make it wider (graphicx's \resizebox with its \width)
            rf"\resizebox{{\ifdim\width>{width}{width}\else\width\fi}}{{!}}{{%",
            rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}}",
            r"\caption{" + " ".join(latex_text(note) for note in notes) + "}",
            r"\label{tab:human-study" + ("-wide" if wide else "") + "}",
            rf"\end{{{environment}}}",
            "",
        ]
    )


def latex_documents(reports: Sequence[StudyReport], labels: Sequence[Labels] = ()) -> dict[str, str]:
    """``summary.tex`` (a ``table`` as wide as a column) and ``summary-wide.tex`` (a ``table*``, every column)."""
    labels = labels or [DEFAULT_LABELS] * len(reports)
    return {
        LATEX_FILES["narrow"]: _latex_table(reports, labels, NARROW_COLUMNS, wide=False),
        LATEX_FILES["wide"]: _latex_table(reports, labels, COLUMNS, wide=True),
    }
