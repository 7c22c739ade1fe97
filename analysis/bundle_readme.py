"""``README.md`` of a results folder or bundle: what each file holds, and the ``evalsite-analyze`` command that
makes every number in it again from the ratings alone."""

import shlex
from collections.abc import Iterable, Sequence
from fnmatch import fnmatch

README = "README.md"

#: What each file holds, by name pattern (``<study>`` stands for the study's slug).
FILE_GUIDE = (
    ("*-ratings.csv", "the tidy ratings, one row per image rating (`codebook.md`)"),
    ("*-ratings.parquet", "the same rows in Parquet, typed, with each column's description in its metadata"),
    ("*-attention.csv", "per annotator, failed and answered attention checks (`codebook.md`)"),
    ("codebook.md", "every column of the ratings: type, units, allowed values, meaning"),
    ("codebook.schema.json", "the same as a JSON Schema of one row"),
    ("summary.json", "every statistic, under the keys of EvalSite's docs/results.md"),
    ("summary.md", "the paper table in Markdown, with its notes"),
    ("summary.tex", "the paper table in LaTeX: a booktabs `table` as wide as a column, notes as its caption"),
    ("summary-wide.tex", "the same with every column, a `table*` as wide as the page"),
    ("protocol.json", "how the images were made, what annotators saw, counts, exclusions, analysis settings"),
    ("protocol.md", "the same, written out for readers"),
    ("paper-table.*", "FID and CLIP score per resolution beside the human-study difference"),
    ("*-single.pdf", "a plot one column wide (3.3 in), PDF with its fonts embedded"),
    ("*-double.pdf", "a plot as wide as the page (6.9 in), PDF with its fonts embedded"),
    ("*.png", "the same plot at that width, PNG at 300 dpi"),
    ("*.svg", "the same plot at that width, SVG"),
    (README, "this file"),
)


def analyze_command(
    *,
    ratings: Sequence[str],
    options,
    adjustment: str,
    exclusions: bool,
    attention: Sequence[str] = (),
    protocol: str | None = "protocol.json",
) -> str:
    """The ``evalsite-analyze`` command line that analyses ``ratings`` as ``options`` (``rendering.AnalysisOptions``)
    say, the exclusion rules applied or not, p adjusted by ``adjustment``."""
    rules = options.rules
    words = ["evalsite-analyze", *ratings, "--out", "reproduced"]
    if protocol:
        words += ["--protocol", protocol]
    words += ["--seed", str(options.seed), "--resamples", str(options.bootstrap_resamples)]
    words += ["--exclusions", "on" if exclusions else "off"]
    words += ["--straightliners", "exclude" if rules.exclude_straightliners else "keep"]
    if rules.min_seconds_per_item is not None:
        words += ["--min-seconds", f"{rules.min_seconds_per_item:g}"]
    if rules.max_attention_failures is not None:
        words += ["--max-attention-failures", str(rules.max_attention_failures)]
    if attention:
        words += ["--attention", *attention]
    words += ["--adjust", adjustment]
    if options.contrasts != "holm":
        words += ["--contrasts", options.contrasts]
    return shlex.join(words)


def _describe(name: str) -> str:
    return next((text for pattern, text in FILE_GUIDE if fnmatch(name, pattern)), "")


def bundle_readme(*, files: Iterable[str], commands: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The README: the files (``files`` and this one) each with what it holds, then how to make them again with
    ``commands`` (one ``evalsite-analyze`` line for all studies, or one per study), with ``notes`` on what the
    ratings alone do not give."""
    names = sorted({*files, README})
    lines = [
        "# Results",
        "",
        "Written by EvalSite (`export_results`, or `evalsite-analyze`, which writes the same files). Every number "
        "here is computed from the ratings in this folder by code that needs no EvalSite site or database: the "
        "standalone command `evalsite-analyze` makes the same tables, figures and documents again, byte for byte, "
        "with the same software versions (`protocol.md`).",
        "",
        "## Files",
        "",
        "| file | holds |",
        "|---|---|",
        *(f"| `{name}` | {_describe(name)} |" for name in names),
        "",
        "## Reproducing every number",
        "",
        "Install EvalSite (`pip install .` in its repository, or `make install`, which puts `evalsite-analyze` in "
        "`.venv/bin`), then, in this folder:",
        "",
        "```sh",
        *commands,
        "```",
        "",
        "It reads the ratings (the `.parquet` or the `.csv`, the same rows), checks every row against the codebook "
        "and writes the ratings, `summary.*`, the plots, `protocol.*`, the codebook and this README into "
        "`reproduced/`; `diff -r -x reproduced . reproduced` then finds no difference (but for what is listed below, "
        "if anything). Each number of the "
        "tables is a key of `summary.json` (EvalSite's docs/results.md names them): the difference, its CI and p "
        "are `mixed_model.effect`, the means `descriptives`, win / tie / loss `descriptives.shares`, d_z "
        "`effect_sizes.d_z`, the adjusted p `p_adjusted`.",
        "",
    ]
    if notes:
        lines += ["What the ratings alone do not give:", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)
