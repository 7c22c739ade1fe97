"""The text of each export format: the tidy ratings as CSV, the study reports as JSON, LaTeX and Markdown tables,
and the protocol manifest; the paper table's cells (also on the results page) and the software versions."""

import functools
import json
import platform
from collections.abc import Sequence
from importlib import metadata

import pandas as pd

from .csv_cells import neutralise
from .latex import latex_escape
from .stats.multiplicity import METHODS
from .stats.report import SCHEMA, StudyReport, to_jsonable

FORMATS = ("csv", "parquet", "json", "latex", "markdown", "plots", "manifest", "codebook", "readme")
TEXT_FORMATS = ("csv", "json", "latex", "markdown", "manifest", "codebook", "readme")
FILE_NAMES = {"json": "summary.json", "latex": "summary.tex", "markdown": "summary.md", "manifest": "protocol.json"}
# The generation side's key packages (``generation.metadata.PACKAGES``, recorded with every image), then what the
# report code imports at run time: the statistics (analysis.stats: numpy, scipy, pandas, statsmodels for the p-value
# adjustment, NLopt for the mixed model's REML search) and the plots (matplotlib).
SOFTWARE_PACKAGES = ("torch", "diffusers", "transformers", "django", "celery", "numpy")
ANALYSIS_PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "nlopt", "matplotlib")
ADJUSTED_LABELS = {"holm": "p (Holm)", "bh": "p (BH)"}


def table_header(adjustment: str = "holm") -> tuple[str, ...]:
    return (
        "Study",
        "Annotators",
        "Items",
        "Baseline",
        "Ours",
        "Ours − baseline [95% CI]",
        "Win / tie / loss %",
        "d_z",
        "p (mixed)",
        ADJUSTED_LABELS[adjustment],
    )


def analysis_software() -> dict[str, str]:
    """Python's and the analysis packages' versions, with the generation side's key packages ("not installed" for
    one that is not), read from the installed distributions without importing them."""
    return dict(_versions())


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    versions = {"python": platform.python_version()}
    for package in dict.fromkeys(SOFTWARE_PACKAGES + ANALYSIS_PACKAGES):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return tuple(versions.items())


def ratings_csv(frame: pd.DataFrame) -> str:
    """The tidy ratings as CSV; text that a spreadsheet would run as a formula is marked (``analysis.csv_cells``)."""
    text_columns = [column for column in frame.columns if not pd.api.types.is_numeric_dtype(frame[column])]
    safe = frame.assign(**{column: frame[column].astype(object).map(neutralise) for column in text_columns})
    return safe.to_csv(index=False, lineterminator="\n")


def summaries_json(reports: Sequence[StudyReport], protocols: Sequence[dict | None]) -> str:
    """``schema``, ``adjustment``, ``studies`` (each report's documented keys plus its ``protocol``), ``software``."""
    method = reports[0].adjustment if reports else "holm"
    document = {
        "schema": SCHEMA,
        "adjustment": {"method": method, "name": METHODS[method], "over": "the mixed-model p of the studies here"},
        "studies": [
            {**report.as_dict(), "protocol": protocol} for report, protocol in zip(reports, protocols, strict=True)
        ],
        "software": analysis_software(),
    }
    return json.dumps(to_jsonable(document), indent=2, ensure_ascii=False) + "\n"


def manifest_json(reports: Sequence[StudyReport], protocols: Sequence[dict | None]) -> str:
    """The protocol manifest: per study, how the images were made, what annotators were asked (when its protocol is
    known), counts, exclusions and the analysis settings; and the software versions."""
    studies = []
    for report, protocol in zip(reports, protocols, strict=True):
        studies.append(
            {
                **(protocol if protocol is not None else {"study": report.study}),
                "analysis": {
                    "seed": report.seed,
                    "bootstrap_resamples": report.bootstrap.resamples,
                    "level": report.level,
                    "primary_model": report.mixed_model.formula,
                    "fitted_model": report.mixed_model.model,
                    "estimation": report.mixed_model.method,
                    "adjustment": METHODS[report.adjustment],
                    "exclusions_applied": report.exclusions_applied,
                },
                "counts_analysed": to_jsonable(report.counts),
                "exclusions": to_jsonable(report.exclusions),
            }
        )
    document = {"schema": SCHEMA, "studies": studies, "software": analysis_software()}
    return json.dumps(to_jsonable(document), indent=2, ensure_ascii=False) + "\n"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}".replace("-", "−")


def table_cells(report: StudyReport) -> list[str]:
    """One row of the paper table (also used by the results page)."""
    effect = report.mixed_model.effect
    low, high = effect.ci
    shares = report.descriptives.shares
    base, ours = report.descriptives.baseline, report.descriptives.ours
    ci = f"[{_signed(low)}, {_signed(high)}]" if low is not None and low == low else "[–, –]"
    return [
        report.study,
        str(report.counts.annotators),
        str(report.counts.items),
        f"{_number(base.mean)} ± {_number(base.sd)}",
        f"{_number(ours.mean)} ± {_number(ours.sd)}",
        f"{_signed(effect.estimate)} {ci}",
        f"{100 * shares.win:.0f} / {100 * shares.tie:.0f} / {100 * shares.loss:.0f}",
        _number(report.effect_sizes.d_z),
        _p(effect.p),
        _p(report.p_adjusted),
    ]


def _notes(reports: Sequence[StudyReport]) -> list[str]:
    method = reports[0].adjustment if reports else "holm"
    notes = [
        "Means ± SD over all judgments. Difference: linear mixed model of ours − baseline per judgment with crossed "
        "random intercepts for annotators and items (REML, Satterthwaite df); win / tie / loss: shares of "
        f"judgments; d_z over per-item mean differences; p adjusted across the studies with {METHODS[method]}."
    ]
    for report in reports:
        if report.mixed_model.simplified:
            notes.append(f"{report.study}: {report.mixed_model.model}.")
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


def summaries_markdown(reports: Sequence[StudyReport]) -> str:
    header = table_header(reports[0].adjustment if reports else "holm")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(table_cells(report)) + " |" for report in reports]
    lines.append("")
    lines += _notes(reports)
    return "\n".join(lines) + "\n"


def summaries_latex(reports: Sequence[StudyReport]) -> str:
    """A booktabs table, one row per study, with the notes as a comment block after it."""

    def cell(text: str) -> str:
        return (
            latex_escape(text)
            .replace("±", r"$\pm$")
            .replace("−", "$-$")
            .replace("< ", "$<$ ")
            .replace("–", "--")
            .replace("d\\_z", "$d_z$")
        )

    header_names = table_header(reports[0].adjustment if reports else "holm")
    header = " & ".join(cell(name) for name in header_names) + r" \\"
    rows = [" & ".join(cell(text) for text in table_cells(report)) + r" \\" for report in reports]
    return "\n".join(
        [
            r"\begin{tabular}{l" + "r" * (len(header_names) - 1) + "}",
            r"\toprule",
            header,
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            *("% " + cell(note) for note in _notes(reports)),
            "",
        ]
    )
