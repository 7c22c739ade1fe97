"""``evalsite-analyze``: the report, tables, figures and open data ``export_results`` writes, made from a tidy
ratings file alone, without a Django project or a database.

    evalsite-analyze demo-ratings.parquet --out results/ --protocol protocol.json --seed 0 --resamples 2000

Each study in the ratings (the ``study`` column) is analysed with the settings the flags give (a results folder's
``README.md`` gives the ones its study used), p adjusted across them, and every file written all or none
(``analysis.files``). Bad input (a file, a flag) is refused with a message naming it, and nothing is written.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .csv_cells import restore
from .files import WriteError, write_files
from .formats import FORMATS
from .labels import DEFAULT_LABELS, LABEL_LENGTHS, Labels, labels_with, parse_label_flags
from .open_data import ATTENTION_COLUMNS
from .rendering import AnalysisOptions, StudyData, render_documents
from .stats.conditions import ADJUSTMENTS
from .stats.multiplicity import METHODS
from .stats.quality import ExclusionRules
from .stats.tidy import EXTRA_COLUMN_RULES, SCORE_MAX, SCORE_MIN, SECONDS_MODES, criterion_of, study_of
from .tidy_files import TidyFileError, read_tidy

#: What the analysis adds to each study's protocol in ``protocol.json``; the rest is the protocol itself.
MANIFEST_ANALYSIS_KEYS = ("analysis", "counts_analysed", "exclusions")


class InputError(ValueError):
    """A file or flag that cannot be used; the message names it."""


def _non_negative(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if value < 0 or value != value:
            raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    defaults = AnalysisOptions()
    p = argparse.ArgumentParser(
        prog="evalsite-analyze",
        description="Analyse tidy ratings (CSV or Parquet) as export_results does, and write the same files.",
    )
    p.add_argument("ratings", nargs="+", type=Path, metavar="RATINGS", help="tidy ratings: .csv or .parquet")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into (made if missing)")
    p.add_argument(
        "--format",
        action="append",
        choices=[*FORMATS, "all"],
        help="what to write; repeat for several (default: all)",
    )
    p.add_argument(
        "--protocol",
        type=Path,
        metavar="protocol.json",
        help="a results folder's protocol.json: "
        "how each study's images were made and what annotators saw, carried into the documents",
    )
    p.add_argument(
        "--attention",
        nargs="+",
        type=Path,
        default=[],
        metavar="ATTENTION.csv",
        help="per study and annotator, failed and answered attention checks (a results folder's <study>-attention.csv)",
    )
    p.add_argument("--seed", type=_non_negative(int), default=defaults.seed, help="the bootstrap's seed (default 0)")
    p.add_argument(
        "--resamples", type=_non_negative(int), default=defaults.bootstrap_resamples, help="bootstrap resamples"
    )
    p.add_argument("--exclusions", choices=["on", "off"], default="on", help="apply the exclusion rules (default on)")
    p.add_argument(
        "--straightliners",
        choices=["exclude", "keep"],
        default="exclude" if defaults.rules.exclude_straightliners else "keep",
        help="the rule for annotators who gave one score to every image (default exclude)",
    )
    p.add_argument(
        "--min-seconds",
        type=_non_negative(float),
        help="exclude annotators whose median seconds per item is below this (default: off)",
    )
    p.add_argument(
        "--max-attention-failures",
        type=_non_negative(int),
        help="exclude annotators who failed more attention checks than this (default: off; needs --attention)",
    )
    p.add_argument("--adjust", choices=list(METHODS), default="holm", help="p adjustment across studies: holm or bh")
    p.add_argument(
        "--contrasts",
        choices=list(ADJUSTMENTS),
        default="holm",
        help="a study of K conditions: how its pairwise contrasts' p are adjusted (holm, the default, with "
        "Bonferroni CIs; tukey, Tukey's studentized range; none)",
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help=f"what figures and tables call {', '.join(LABEL_LENGTHS)} (the score), over those of --protocol's "
        'studies; e.g. --label baseline="SD-2.1" --label ours="+ entropy scaling"; repeat for each',
    )
    p.add_argument(
        "--seconds",
        choices=list(SECONDS_MODES),
        default="pair",
        help="what a row's seconds hold: "
        + "; ".join(f"{name}: {text}" for name, text in SECONDS_MODES.items())
        + " (default pair)",
    )
    p.add_argument(
        "--extra-columns",
        choices=list(EXTRA_COLUMN_RULES),
        default="reject",
        help="columns beyond the "
        "tidy ones: " + "; ".join(f"{name}: {text}" for name, text in EXTRA_COLUMN_RULES.items()),
    )
    return p


def _protocols(path: Path | None) -> tuple[dict[str, dict] | None, dict[str, Labels]]:
    """Each study's protocol from a results folder's ``protocol.json`` (its entry less what the analysis adds), and
    the labels its figures and tables had."""
    if path is None:
        return None, {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    studies = document.get("studies") if isinstance(document, dict) else None
    if not isinstance(studies, list) or not all(isinstance(s, dict) and "study" in s for s in studies):
        raise InputError(f"{path} is not a protocol manifest: it needs 'studies', each with its 'study'")
    protocols = {
        str(study["study"]): {key: value for key, value in study.items() if key not in MANIFEST_ANALYSIS_KEYS}
        for study in studies
    }
    labels = {}
    for study in studies:
        analysis = study.get("analysis")
        texts = (analysis.get("labels") if isinstance(analysis, dict) else None) or {}
        if not isinstance(texts, dict) or set(texts) - set(LABEL_LENGTHS):
            raise InputError(f"{path}: study {study['study']!r} has labels that are not {', '.join(LABEL_LENGTHS)}")
        try:
            labels[str(study["study"])] = labels_with(DEFAULT_LABELS, {name: str(text) for name, text in texts.items()})
        except ValueError as exc:
            raise InputError(f"{path}: study {study['study']!r}: {exc}") from None
    return protocols, labels


def _attention(paths: Sequence[Path]) -> dict[str, pd.DataFrame]:
    """Per study, the attention-check table (``annotator, failures, checks``), from files with a ``study`` column."""
    tables: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        try:
            frame = pd.read_csv(path, dtype={"study": str, "annotator": str}, keep_default_na=False)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"Cannot read {path}: {exc}") from None
        missing = [column for column in ("study", *ATTENTION_COLUMNS) if column not in frame.columns]
        if missing:
            raise InputError(f"{path} line 1: the columns lack {', '.join(missing)}")
        frame["study"] = frame["study"].map(restore)  # marked as in the ratings CSV
        frame["annotator"] = frame["annotator"].map(restore)
        for column in ("failures", "checks"):
            numbers = pd.to_numeric(frame[column], errors="coerce")
            bad = frame.index[numbers.isna() | (numbers < 0) | (numbers % 1 != 0)]
            if len(bad):
                raise InputError(f"{path} line {bad[0] + 2}: {column} {frame[column][bad[0]]!r} is not a count")
            frame[column] = numbers.astype("int64")
        for study, part in frame.groupby("study", sort=False):
            tables.setdefault(study, []).append(part.loc[:, list(ATTENTION_COLUMNS)])
    return {study: pd.concat(parts, ignore_index=True) for study, parts in tables.items()}


def studies_from(args: argparse.Namespace) -> list[StudyData]:
    """The studies of the ratings files, with the flags' analysis options, protocols and attention checks."""
    if args.max_attention_failures is not None and not args.attention:
        raise InputError("--max-attention-failures needs --attention: the attention-check answers per annotator")
    frames: dict[str, pd.DataFrame] = {}
    for path in args.ratings:
        try:
            tidy = read_tidy(path, seconds=args.seconds, extra=args.extra_columns)
        except TidyFileError as exc:
            raise InputError(f"{path} was not read:\n  " + "\n  ".join(exc.problems)) from None
        earlier = {study_of(unit) for unit in frames}
        for unit, frame in tidy.frames.items():  # a study, or a study's criterion (``tidy.units``)
            if study_of(unit) in earlier:
                raise InputError(f"{path}: study {study_of(unit)!r} is also in an earlier ratings file")
            frames[unit] = frame
    protocols, labels = _protocols(args.protocol)
    flags = parse_label_flags(args.label)  # ValueError names the flag
    if protocols is not None:
        missing = [slug for slug in frames if slug not in protocols]
        if missing:
            raise InputError(f"{args.protocol} has no study {', '.join(map(repr, missing))}")
    attention = _attention(args.attention)
    unknown = [slug for slug in attention if slug not in {study_of(unit) for unit in frames}]
    if unknown:
        raise InputError(f"The attention checks name study {', '.join(map(repr, unknown))}, not in the ratings")
    options = AnalysisOptions(
        seed=args.seed,
        bootstrap_resamples=args.resamples,
        rules=ExclusionRules(
            min_seconds_per_item=args.min_seconds,
            exclude_straightliners=args.straightliners == "exclude",
            max_attention_failures=args.max_attention_failures,
        ),
        apply_exclusions=args.exclusions == "on",
        contrasts=args.contrasts,
    )
    empty = pd.DataFrame(columns=list(ATTENTION_COLUMNS))
    return [
        StudyData(
            slug=slug,
            ratings=frame,
            options=options,
            attention=attention.get(study_of(slug), empty) if args.attention else None,
            protocol=protocols[slug] if protocols is not None else None,
            labels=labels_with(labels.get(slug, DEFAULT_LABELS), flags),
            scale_points=_scale_points(protocols[slug] if protocols is not None else None, criterion_of(slug)),
        )
        for slug, frame in frames.items()
    ]


def _scale_points(protocol: dict | None, criterion: str = "") -> int:
    """The top of the scale the study's protocol says annotators scored on (that of ``criterion``, its key; else of
    the first criterion), else 10."""
    criteria = [entry for entry in (protocol or {}).get("criteria") or [] if isinstance(entry, dict)] or [{}]
    own = next((entry for entry in criteria if criterion and entry.get("key") == criterion), criteria[0])
    points = own.get("scale_points")
    return points if isinstance(points, int) and SCORE_MIN < points <= SCORE_MAX else SCORE_MAX


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    formats = list(FORMATS) if not args.format or "all" in args.format else list(dict.fromkeys(args.format))
    if args.out.exists() and not args.out.is_dir():
        print(f"evalsite-analyze: --out {args.out} is not a folder.", file=sys.stderr)
        return 2
    try:
        studies = studies_from(args)
        documents = render_documents(studies, formats=formats, adjustment=args.adjust)
        written = write_files(documents, args.out)
    except (InputError, WriteError, ValueError) as exc:
        print(f"evalsite-analyze: {exc}\nNothing was written.", file=sys.stderr)
        return 1
    for path in written:
        print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
