"""The documents of ``manage.py export_results``: every requested format rendered in full, then written all or
none; and the results bundle, the same files in one zip, for the results page."""

import io
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from django.core.exceptions import ValidationError

from evalsite.progress import BarFactory, NoBar

from .files import WriteError, write_files
from .formats import FORMATS
from .rendering import ANALYSED_FORMATS, check_formats, render_documents
from .selectors import analysis_units, find_studies, study_data


def render_results(
    *,
    slugs: Sequence[str],
    formats: Sequence[str],
    adjustment: str = "holm",
    exclusions: bool | None = None,
    labels: Mapping[str, str] | None = None,
    bar: BarFactory = NoBar,
) -> dict[str, str | bytes]:
    """Every requested document, by file name, computed in full before anything is written: the studies' inputs
    read from the database, the documents rendered from them by ``analysis.rendering.render_documents``; a study of
    several criteria is analysed per criterion (``selectors.analysis_units``). ``labels`` (name → text) are put over
    every study's own. ``bar`` shows the steps done per unit: reading its ratings, its analysis, its plots
    (``evalsite.progress``)."""
    try:
        check_formats(formats)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    studies = find_studies(slugs)
    analysed = bool(set(formats) & set(ANALYSED_FORMATS))
    units = [(study, criterion) for study in studies for _, criterion in analysis_units(study)]
    steps = len(units) * (1 + analysed + ("plots" in formats))
    with bar(total=steps, desc="results", unit="step") as progress:
        data = []
        for study, criterion in units:  # a study of several criteria is analysed per criterion
            data.append(study_data(study, criterion=criterion, documents=analysed, labels=labels))
            progress.update(1)
        try:
            return render_documents(
                data, formats=formats, adjustment=adjustment, exclusions=exclusions, progress=progress.update
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


def write_documents(documents: dict[str, str | bytes], out_dir: Path) -> list[Path]:
    """Write each document under ``out_dir``, all or none (``analysis.files.write_files``); a ValidationError names
    the file that could not be written."""
    try:
        return write_files(documents, out_dir)
    except WriteError as exc:
        raise ValidationError(str(exc)) from exc


#: Every file in a results bundle is dated this (zip's earliest date), so that the same files give the same zip.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_results(
    *,
    slugs: Sequence[str],
    formats: Sequence[str],
    out_dir: Path,
    adjustment: str = "holm",
    exclusions: bool | None = None,
    labels: Mapping[str, str] | None = None,
    bar: BarFactory = NoBar,
) -> list[Path]:
    """What ``export_results --out`` does: render every requested document, then write them all or none."""
    documents = render_results(
        slugs=slugs, formats=formats, adjustment=adjustment, exclusions=exclusions, labels=labels, bar=bar
    )
    return write_documents(documents, out_dir)


def results_zip(*, slug: str, bar: BarFactory = NoBar) -> tuple[bytes, list[tuple[str, int]]]:
    """Everything ``export_results <slug> --format all --out DIR`` writes, as one zip, and each file's name and size.

    The files are written by ``write_results`` into a temporary folder, the command's own path, and packed from
    there at the zip's root in name order, each dated ``ZIP_DATE``: the same files always give the same zip.
    """
    with tempfile.TemporaryDirectory(prefix="evalsite-results-") as folder:
        written = write_results(slugs=[slug], formats=FORMATS, out_dir=Path(folder), bar=bar)
        buffer = io.BytesIO()
        files = []
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(written, key=lambda path: path.name):
                data = path.read_bytes()
                info = zipfile.ZipInfo(path.name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16  # a plain file, readable by all
                archive.writestr(info, data)
                files.append((path.name, len(data)))
    return buffer.getvalue(), files
