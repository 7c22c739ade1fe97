"""The analysis units of pairwise judgments (``analysis.stats.choices``): each is fitted by ``pairwise_study``
(Bradley–Terry strengths, Davidson's with ties, with two-way bootstrap CIs, win rates, a leaderboard and the pair
tests) and written as its tables and figures under the unit's name, with an entry in ``summary.json`` and in the
protocol manifest. Plain data in, files out; nothing here imports Django."""

from collections.abc import Sequence
from dataclasses import asdict

from .condition_units import asked_for, reference_of
from .labels import Labels
from .pairwise_plots import pairwise_plot_documents
from .pairwise_tables import pairwise_table_documents
from .stats.pairwise import PairwiseResult, pairwise_study
from .stats.report import to_jsonable


def rank_unit(study) -> PairwiseResult:
    """The fit of one unit (a ``rendering.StudyData`` of judgments) with its options' seed and resamples; the
    reference as ``condition_units.reference_of`` finds it (the conditions in the order they first appear). A
    ValueError names the unit."""
    frame = study.ratings
    conditions = list(dict.fromkeys(name for pair in zip(frame["left"], frame["right"], strict=True) for name in pair))
    try:
        return pairwise_study(
            study.ratings,
            seed=study.options.seed,
            resamples=study.options.bootstrap_resamples,
            reference=reference_of(conditions, study.protocol),
        )
    except ValueError as exc:
        raise ValueError(f"Study {study.slug!r}: {exc}") from exc


def pairwise_documents(study, result: PairwiseResult, formats: Sequence[str], labels: Labels) -> dict[str, str | bytes]:
    """The unit's tables (``<unit>-leaderboard|win-rates|pairs``, in the formats asked for) and, with ``plots``, its
    figures."""
    name, criterion = study.slug, labels.question
    return asked_for(
        pairwise_table_documents(result, name=name, criterion=criterion),
        formats,
        lambda: pairwise_plot_documents(result, name=name, criterion=criterion),
    )


def pairwise_summary(study, result: PairwiseResult, labels: Labels) -> dict:
    """The unit's entry in ``summary.json``'s ``pairwise``: the fit's fields, its labels and its protocol."""
    return {"study": study.slug, **to_jsonable(result), "labels": asdict(labels), "protocol": study.protocol}


def pairwise_manifest(study, result: PairwiseResult, labels: Labels) -> dict:
    """The unit's entry in the protocol manifest's ``studies``: its protocol, the analysis it had and its counts."""
    return {
        **(study.protocol or {"study": study.slug}),
        "analysis": {
            "primary_model": result.model,
            "estimation": "maximum likelihood (Newton)",
            "reference": result.reference,
            "level": result.level,
            "adjustment": result.adjustment,
            "seed": result.seed,
            "bootstrap_resamples": result.resamples,
            "exclusions_applied": False,
            "labels": asdict(labels),
        },
        "counts_analysed": {"annotators": result.annotators, "items": result.items, "judgments": result.n},
    }
