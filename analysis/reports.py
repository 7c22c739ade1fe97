"""Export of results: the one function behind ``manage.py export_results``."""
from collections.abc import Sequence
from pathlib import Path

from django.core.exceptions import ValidationError

from annotations.models import Study

from .exports import FILE_NAMES, FORMATS, ratings_csv, summaries_json, summaries_latex, summaries_markdown
from .protocol import study_protocol
from .stats import summarize
from .tidy import ratings_frame


def find_studies(slugs: Sequence[str]) -> list[Study]:
    studies = {study.slug: study for study in Study.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in studies]
    if missing:
        raise ValidationError(f"No study with slug {', '.join(repr(slug) for slug in missing)}.")
    return [studies[slug] for slug in slugs]


def render_results(*, slugs: Sequence[str], formats: Sequence[str]) -> dict[str, str]:
    """Every requested document, by file name, computed in full before anything is written."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValidationError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    studies = find_studies(slugs)
    frames = {study.slug: ratings_frame(study=study) for study in studies}
    documents: dict[str, str] = {}
    if "csv" in formats:
        for slug, frame in frames.items():
            documents[f"{slug}-ratings.csv"] = ratings_csv(frame)
    if set(formats) & {"json", "latex", "markdown"}:
        summaries = []
        for study in studies:
            try:
                summaries.append(summarize(frames[study.slug], study=study.slug))
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
        if "json" in formats:
            documents[FILE_NAMES["json"]] = summaries_json(summaries, [study_protocol(study=s) for s in studies])
        if "latex" in formats:
            documents[FILE_NAMES["latex"]] = summaries_latex(summaries)
        if "markdown" in formats:
            documents[FILE_NAMES["markdown"]] = summaries_markdown(summaries)
    return documents


def write_documents(documents: dict[str, str], out_dir: Path) -> list[Path]:
    """Write each document under ``out_dir`` (created if needed), each file replaced whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in documents.items():
        path = out_dir / name
        temp = path.with_name(f".{name}.part")
        temp.write_text(text, encoding="utf-8")
        temp.replace(path)
        written.append(path)
    return written
