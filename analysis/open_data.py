"""The open-data files of a results folder, beside the tables: the ratings in Parquet, the attention-check answers,
the codebook, the readable protocol and the README that says how to make every number again. Plain data in (the
studies ``analysis.rendering`` takes), files out; nothing here imports Django."""

from collections.abc import Mapping, Sequence

import pandas as pd

from .bundle_readme import analyze_command, bundle_readme
from .codebook import CODEBOOK_FILES, codebook_markdown, codebook_schema
from .csv_cells import neutralise
from .stats.tidy import study_of
from .tidy_files import data_kind, is_judgments, ratings_parquet

ATTENTION_COLUMNS = ("annotator", "failures", "checks")


def attention_csv(frame: pd.DataFrame, *, slug: str) -> str:
    """Per annotator of study ``slug``, failed and answered attention checks, as CSV (``study``, then
    ``ATTENTION_COLUMNS``; text marked as in the ratings CSV)."""
    safe = frame.loc[:, list(ATTENTION_COLUMNS)].assign(annotator=frame["annotator"].astype(object).map(neutralise))
    safe.insert(0, "study", neutralise(slug))
    return safe.to_csv(index=False, lineterminator="\n")


def has_attention(study) -> bool:
    return study.attention is not None and not study.attention.empty


def by_study(studies: Sequence) -> dict[str, list]:
    """The analysis units (``StudyData``) grouped by the study they come from (a study of several criteria is analysed
    per criterion, and its files hold all of them), in order."""
    groups: dict[str, list] = {}
    for study in studies:
        groups.setdefault(study_of(study.slug), []).append(study)
    return groups


def study_ratings(group: Sequence) -> pd.DataFrame:
    """The tidy ratings of a study's units, one frame (a study of one criterion: its own), with a ``criterion``
    column after ``condition`` (empty when the ratings named none)."""
    frame = group[0].ratings if len(group) == 1 else pd.concat([unit.ratings for unit in group], ignore_index=True)
    if "criterion" in frame.columns or is_judgments(frame):
        return frame
    columns = list(frame.columns)
    columns.insert(columns.index("condition") + 1 if "condition" in columns else len(columns), "criterion")
    return frame.assign(criterion="")[columns]


def data_files(studies: Sequence, formats: Sequence[str]) -> dict[str, str | bytes]:
    """The ratings as Parquet (``parquet``), each study's attention-check answers when it asked any (with ``csv`` or
    ``parquet``), and the codebook (``codebook``): one ratings file per study, every criterion in it."""
    documents: dict[str, str | bytes] = {}
    for slug, group in by_study(studies).items():
        if "parquet" in formats:
            frame = study_ratings(group)
            documents[f"{slug}-{data_kind(frame)}.parquet"] = ratings_parquet(frame)
        if has_attention(group[0]) and {"csv", "parquet"} & set(formats):
            documents[f"{slug}-attention.csv"] = attention_csv(group[0].attention, slug=slug)
    if "codebook" in formats:
        documents[CODEBOOK_FILES["markdown"]] = codebook_markdown()
        documents[CODEBOOK_FILES["schema"]] = codebook_schema()
    return documents


def _ratings_file(slug: str, names: Mapping) -> str:
    for suffix in ("parquet", "csv"):
        for kind in ("ratings", "judgments"):
            if f"{slug}-{kind}.{suffix}" in names:
                return f"{slug}-{kind}.{suffix}"
    return f"{slug}-ratings.csv"


def readme(studies: Sequence, documents: Mapping, *, adjustment: str, exclusions: bool | None) -> str:
    """``README.md`` for ``documents``: its files, and the ``evalsite-analyze`` commands that make them again."""

    def command(group: Sequence) -> str:
        first = group[0]
        groups = by_study(group)
        attention = [f"{slug}-attention.csv" for slug, units in groups.items() if has_attention(units[0])]
        return analyze_command(
            ratings=[_ratings_file(slug, documents) for slug in groups],
            options=first.options,
            adjustment=adjustment,
            exclusions=first.options.apply_exclusions if exclusions is None else exclusions,
            attention=attention,
            protocol="protocol.json" if all(study.protocol is not None for study in group) else None,
        )

    settings = {
        (study.options, study.options.apply_exclusions if exclusions is None else exclusions) for study in studies
    }
    notes = []
    groups = by_study(studies)
    if len(settings) == 1 or len(groups) == 1:
        commands = [command(studies)]
    else:
        commands = [command(group) for group in groups.values()]
        notes.append(
            "The studies were analysed with different settings, so each has its own command; p adjusted across "
            "the studies (`p_adjusted`) comes only from one command over all of them with one set of settings."
        )
    if any(name.startswith("paper-table.") for name in documents):
        notes.append(
            "`paper-table.*`: FID and CLIP score come from the metric runs over the generated images, not from "
            "the ratings; evalsite-analyze does not write them."
        )
    if not any(
        name.endswith(("-ratings.csv", "-ratings.parquet", "-judgments.csv", "-judgments.parquet"))
        for name in documents
    ):
        notes.append("The ratings are not in this folder: export them with `--format csv` or `--format parquet`.")
    return bundle_readme(files=documents, commands=commands, notes=notes)
