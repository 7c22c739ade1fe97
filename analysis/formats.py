"""The text of each export format but the tables (``analysis.tables``): the tidy ratings as CSV, the study reports
as JSON, and the protocol manifest; and the software versions."""

import csv
import functools
import io
import json
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from importlib import metadata

import numpy as np
import pandas as pd

from .csv_cells import neutralise
from .labels import DEFAULT_LABELS, Labels
from .stats.multiplicity import METHODS
from .stats.report import SCHEMA, StudyReport, to_jsonable
from .stats.tidy import criterion_of
from .tables import table_dict

FORMATS = ("csv", "parquet", "json", "latex", "markdown", "plots", "manifest", "codebook", "readme")
TEXT_FORMATS = ("csv", "json", "latex", "markdown", "manifest", "codebook", "readme")
FILE_NAMES = {"json": "summary.json", "latex": "summary.tex", "markdown": "summary.md", "manifest": "protocol.json"}
# The generation side's key packages (``generation.metadata.PACKAGES``, recorded with every image), then what the
# report code imports at run time: the statistics (analysis.stats: numpy, scipy, pandas, statsmodels for the p-value
# adjustment, NLopt for the mixed model's REML search) and the plots (matplotlib).
SOFTWARE_PACKAGES = ("torch", "diffusers", "transformers", "django", "celery", "numpy")
ANALYSIS_PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "nlopt", "matplotlib")


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


#: Rows of the ratings CSV joined at a time: the memory a million ratings' text takes stays one chunk's.
CSV_CHUNK = 100_000


def ratings_csv(frame: pd.DataFrame) -> str:
    """The tidy ratings as CSV; text that a spreadsheet would run as a formula is marked (``analysis.csv_cells``).

    Each column's distinct values are written once, by the csv module's rules (quoted when they hold a comma, a quote
    or a line break), and the rows take them by code, ``CSV_CHUNK`` rows at a time: a million ratings have a few
    thousand distinct texts. The text is what ``DataFrame.to_csv`` writes, in a fraction of the time."""
    columns = [_cell_texts(frame[column]) for column in frame.columns]
    parts = [",".join(_quoted(str(column)) for column in frame.columns) + "\n"]
    for start in range(0, len(frame), CSV_CHUNK):
        rows = slice(start, start + CSV_CHUNK)
        lines = None
        for codes, texts in columns:
            cells = texts[codes[rows]]
            lines = cells if lines is None else lines + "," + cells
        parts.append("\n".join(lines.tolist()) + "\n")
    return "".join(parts)


def _cell_texts(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column's codes and the text of each code as the CSV shows it: integers as they are, floats as ``repr``,
    text marked and quoted where it must be; the last code, a missing value, empty."""
    codes, uniques = pd.factorize(column)
    values = np.asarray(uniques, dtype=object).tolist()
    if pd.api.types.is_integer_dtype(column) or pd.api.types.is_bool_dtype(column):
        texts = [str(value) for value in values]
    elif pd.api.types.is_float_dtype(column):
        texts = [repr(float(value)) for value in values]
    else:
        texts = [_quoted(neutralise(value)) for value in values]
    return codes.astype(np.int32), np.array([*texts, ""], dtype=object)  # code −1 takes the last


def _quoted(text) -> str:
    """One CSV cell as the csv module writes it among others (an empty one stays empty)."""
    text = str(text)
    if not text:
        return ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([text])
    return buffer.getvalue()[:-1]


def _labels_for(reports: Sequence[StudyReport], labels: Sequence[Labels]) -> Sequence[Labels]:
    return labels or [DEFAULT_LABELS] * len(reports)


def summaries_json(
    reports: Sequence[StudyReport],
    protocols: Sequence[dict | None],
    labels: Sequence[Labels] = (),
    *,
    conditions: Sequence[dict] = (),
    pairwise: Sequence[dict] = (),
) -> str:
    """``schema``, ``adjustment``, ``studies`` (each report's documented keys plus its ``labels`` and ``protocol``),
    ``table`` (the results table's text, as every other document shows it), ``conditions`` when there are studies
    of other conditions than the paired two (``condition_units.summary_entry``: one per unit), ``pairwise`` when
    there are studies of pairwise judgments (``pairwise_units.pairwise_summary``) and ``software``."""
    method = reports[0].adjustment if reports else "holm"
    labels = _labels_for(reports, labels)
    document = {
        "schema": SCHEMA,
        "adjustment": {"method": method, "name": METHODS[method], "over": "the mixed-model p of the studies here"},
        "studies": [
            {**report.as_dict(), "labels": asdict(own), "protocol": protocol}
            for report, own, protocol in zip(reports, labels, protocols, strict=True)
        ],
        "table": table_dict(reports, labels),
        **({"conditions": list(conditions)} if conditions else {}),
        **({"pairwise": list(pairwise)} if pairwise else {}),
        "software": analysis_software(),
    }
    return json.dumps(to_jsonable(document), indent=2, ensure_ascii=False) + "\n"


def unit_protocol(protocol: Mapping, unit: str) -> dict:
    """The protocol of an analysis unit: its study's, under the unit's name (``tidy.unit_name``), saying the
    criterion when the unit is one of several."""
    criterion = criterion_of(unit)
    return {**protocol, "study": unit, **({"criterion": criterion} if criterion else {})}


def manifest_json(
    reports: Sequence[StudyReport],
    protocols: Sequence[dict | None],
    labels: Sequence[Labels] = (),
    *,
    conditions: Sequence[dict] = (),
) -> str:
    """The protocol manifest: per study (per analysis unit: a study of several criteria has one per criterion, named
    ``<slug>.<key>`` and saying its ``criterion``), how the images were made, what annotators were asked (when its
    protocol is known), counts, exclusions and the analysis settings with the labels of its figures and tables; and
    the software versions."""
    studies = []
    for report, own, protocol in zip(reports, _labels_for(reports, labels), protocols, strict=True):
        studies.append(
            {
                **unit_protocol(protocol or {}, report.study),
                "analysis": {
                    "seed": report.seed,
                    "bootstrap_resamples": report.bootstrap.resamples,
                    "level": report.level,
                    "primary_model": report.mixed_model.formula,
                    "fitted_model": report.mixed_model.model,
                    "estimation": report.mixed_model.method,
                    "adjustment": METHODS[report.adjustment],
                    "exclusions_applied": report.exclusions_applied,
                    "labels": asdict(own),
                },
                "counts_analysed": to_jsonable(report.counts),
                "exclusions": to_jsonable(report.exclusions),
            }
        )
    studies += conditions  # the units of other conditions (``condition_units.manifest_entry``)
    document = {"schema": SCHEMA, "studies": studies, "software": analysis_software()}
    return json.dumps(to_jsonable(document), indent=2, ensure_ascii=False) + "\n"
