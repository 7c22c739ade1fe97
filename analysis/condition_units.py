"""The analysis units of conditions other than the paired two (``analysis.stats.tidy.is_paired``): each is compared
by ``compare_conditions`` (a mixed model with the reference as baseline, its omnibus test, means and every pairwise
contrast) and written as its tables and figures under the unit's name, with an entry in ``summary.json`` and in the
protocol manifest. Plain data in, files out; nothing here imports Django."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

from .condition_plots import condition_plot_documents
from .condition_tables import condition_table_documents
from .labels import Labels
from .stats.conditions import ADJUSTMENTS, FORMULA, ConditionComparison, compare_conditions
from .stats.tidy import CONDITIONS

#: The table files each format asks for (``condition_table_documents`` writes all four kinds).
TABLE_SUFFIXES = {"latex": ".tex", "markdown": ".md", "json": ".json", "csv": ".csv"}


def reference_of(conditions: Sequence[str], protocol: Mapping | None) -> str:
    """The condition the others are compared with: the protocol's reference when it has one among ``conditions``
    (in the order they first appear), else ``baseline`` when there is one, else the first."""
    marked = [
        entry.get("key")
        for entry in (protocol or {}).get("conditions") or []
        if isinstance(entry, Mapping) and (entry.get("is_reference") or entry.get("reference"))
    ]
    for key in [*marked, CONDITIONS[0]]:
        if key in conditions:
            return key
    return conditions[0]


def compare_unit(study) -> ConditionComparison:
    """The comparison of one unit (a ``rendering.StudyData`` of other conditions), its contrasts adjusted as its
    options say; a ValueError names the unit."""
    conditions = list(dict.fromkeys(study.ratings["condition"]))
    try:
        reference = reference_of(conditions, study.protocol)
        return compare_conditions(study.ratings, reference=reference, adjustment=study.options.contrasts)
    except ValueError as exc:
        raise ValueError(f"Study {study.slug!r}: {exc}") from exc


def asked_for(
    tables: Mapping[str, str], formats: Sequence[str], figures: Callable[[], Mapping[str, bytes]]
) -> dict[str, str | bytes]:
    """A unit's table files in the formats asked for (``TABLE_SUFFIXES``) and, with ``plots``, its ``figures()``."""
    wanted = tuple(suffix for name, suffix in TABLE_SUFFIXES.items() if name in formats)
    documents: dict[str, str | bytes] = {name: text for name, text in tables.items() if name.endswith(wanted)}
    if "plots" in formats:
        documents.update(figures())
    return documents


def unit_documents(
    study, comparison: ConditionComparison, formats: Sequence[str], labels: Labels
) -> dict[str, str | bytes]:
    """The unit's tables (``<unit>-means|contrasts|omnibus``, in the formats asked for) and, with ``plots``, its
    figures (``<unit>-contrasts|means-<width>``)."""
    name, criterion = study.slug, labels.question
    return asked_for(
        condition_table_documents(comparison, name=name, criterion=criterion),
        formats,
        lambda: condition_plot_documents(comparison, name=name, criterion=criterion),
    )


def summary_entry(study, comparison: ConditionComparison, labels: Labels) -> dict:
    """The unit's entry in ``summary.json``'s ``conditions``: the comparison's documented keys, its labels and its
    protocol."""
    return {"study": study.slug, **comparison.as_dict(), "labels": asdict(labels), "protocol": study.protocol}


def manifest_entry(study, comparison: ConditionComparison, labels: Labels) -> dict:
    """The unit's entry in the protocol manifest's ``studies``: its protocol, the analysis it had and what it
    counted."""
    return {
        **(study.protocol or {"study": study.slug}),
        "analysis": {
            "primary_model": FORMULA,
            "estimation": comparison.fit.method,
            "reference": comparison.reference,
            "level": comparison.level,
            "adjustment": ADJUSTMENTS[comparison.adjustment],
            "exclusions_applied": False,
            "labels": asdict(labels),
        },
        "counts_analysed": comparison.counts,
    }
