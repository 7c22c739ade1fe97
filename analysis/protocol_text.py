"""``protocol.md``: the protocol manifest (``protocol.json``) written out for readers, study by study, in sections
and sentences rather than keys."""

import json
from collections.abc import Mapping, Sequence

from .stats.tidy import SCORE_MAX

PROTOCOL_MARKDOWN = "protocol.md"


def _value(value: object) -> str:
    """A manifest value as text: sizes as ``w × h``, lists joined, yes/no, ``–`` for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        joiner = " × " if all(isinstance(part, int) for part in value) else ", "
        return joiner.join(map(str, value))
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_value(item)}" for key, item in value.items()) or "–"
    return str(value)


def _cell(value: object) -> str:
    return _value(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[tuple[str, object]]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    return lines + [f"| {label} | {_cell(value)} |" for label, value in rows]


def _quoted(text: str) -> list[str]:
    return [f"> {line}" if line else ">" for line in text.splitlines()] or ["> –"]


def generation_rows(study: Mapping) -> list[tuple[str, str]]:
    """How a study's images were made, as (label, text) rows."""
    seeds = study.get("seeds") or {}
    seed_text = (
        f"base {seeds.get('base')}, pairs {seeds.get('min')}–{seeds.get('max')}"
        if seeds.get("min") is not None
        else f"base {seeds.get('base')}"
    )
    size = [study["width"], study["height"]] if study.get("width") and study.get("height") else None
    guidance = study.get("guidance_scale")
    applied = study.get("classifier_free_guidance")
    if guidance is not None and applied is not None:
        guidance = f"{guidance} ({'applied' if applied else 'not applied by the pipeline'})"
    rows = [
        ("model", study.get("model")),
        (
            "registry name, family",
            ", ".join(str(study[key]) for key in ("model_name", "model_family") if study.get(key)),
        ),
        ("revision", study.get("revision")),
        ("trained at", study.get("train_resolution")),
        ("generated at", size),
        ("pipeline", study.get("pipeline")),
        ("scheduler", study.get("scheduler")),
        ("steps", study.get("steps")),
        ("guidance scale", guidance),
        ("negative prompt", study.get("negative_prompt")),
        ("seeds", seed_text),
        ("pairs (generated)", f"{study.get('pairs')} ({study.get('pairs_generated')})"),
        ("software that made the images", study.get("generation_software")),
        ("conditions", _conditions(study.get("conditions") or [])),
    ]
    return [(label, _value(value)) for label, value in rows]


def _conditions(conditions: Sequence[Mapping]) -> str:
    """'baseline = Baseline (plain, the reference); ours = Ours (entropy)': each condition's data key, name and
    kind."""
    return "; ".join(
        f"{c['key']} = {c['name']} ({c['kind']}{', the reference' if c.get('is_reference') else ''})"
        for c in conditions
    )


def _scale(criteria: Sequence[Mapping]) -> str:
    """Each criterion's scale and the anchors annotators saw under it: '1–10 (1 = does not match, 10 = matches
    exactly)'."""
    scales = []
    for criterion in criteria:
        top = criterion.get("scale_points", SCORE_MAX)
        ends = [f"1 = {criterion['low_anchor']}"] if criterion.get("low_anchor") else []
        ends += [f"{top} = {criterion['high_anchor']}"] if criterion.get("high_anchor") else []
        scales.append(f"1–{top} ({', '.join(ends)})" if ends else f"1–{top}")
    return "; ".join(scales)


def _questions(study: Mapping) -> str | None:
    """The question annotators answered; with several criteria, each one's name and question, in order."""
    criteria = [criterion for criterion in study.get("criteria") or [] if isinstance(criterion, Mapping)]
    if len(criteria) < 2:
        return study.get("question")
    return "; ".join(f"{number}. {c.get('label')}: {c.get('question')}" for number, c in enumerate(criteria, 1))


def annotator_rows(study: Mapping) -> list[tuple[str, str]]:
    """What a study's annotators saw and how many took part, as (label, text) rows; texts keep their lines."""
    criteria = study.get("criteria") or []
    rows = [
        ("questions" if len(criteria) > 1 else "question", _questions(study)),
        ("scale", _scale(criteria)),
        ("instructions", study.get("instructions")),
        ("consent", study.get("consent_text")),
        ("attention checks per annotator", study.get("attention_checks_per_annotator")),
        ("annotators invited", study.get("annotators_invited")),
        ("annotators finished", study.get("annotators_finished")),
    ]
    return [(label, _value(value)) for label, value in rows]


def protocol_sections(study: Mapping) -> list[tuple[str, list[tuple[str, str]]]]:
    """A study's protocol (``analysis.protocol.study_protocol``'s dict) in titled sections of (label, text) rows,
    for the results page; ``protocol.md`` writes the same."""
    return [("How the images were made", generation_rows(study)), ("What annotators saw", annotator_rows(study))]


def _generation(study: Mapping) -> list[str]:
    return [
        "### How the images were made",
        "",
        *_table(generation_rows(study)),
        "",
        "Both images of a pair come from the same seed, initial latents and prompt; only the attention scale differs.",
        "",
    ]


def _annotators(study: Mapping) -> list[str]:
    texts = dict(annotator_rows(study))
    lines = ["### What annotators saw", "", "**Question**", "", *_quoted(study.get("question") or "")]
    if study.get("criteria"):
        lines += ["", f"Scale: {texts['scale']}."]
    lines += ["", "**Instructions**", "", *_quoted(study.get("instructions") or "")]
    lines += ["", "**Consent**", "", *_quoted(study.get("consent_text") or "")]
    lines += [
        "",
        f"Attention checks per annotator: {texts['attention checks per annotator']}. Annotators invited: "
        f"{texts['annotators invited']}, finished: {texts['annotators finished']}.",
        "",
    ]
    return lines


def _analysis(study: Mapping) -> list[str]:
    analysis = study.get("analysis") or {}
    counts = study.get("counts_analysed") or {}
    exclusions = study.get("exclusions") or {}
    by_condition = "reference" in analysis  # a study of other conditions, or of pairwise judgments (their units)
    rows = [
        ("primary model", analysis.get("primary_model")),
        *([] if by_condition else [("fitted model", analysis.get("fitted_model"))]),
        ("estimation", analysis.get("estimation")),
        *([("reference condition", analysis.get("reference"))] if by_condition else []),
        ("confidence level", analysis.get("level")),
        (
            "p of the pairwise contrasts adjusted by" if by_condition else "p adjusted across studies by",
            analysis.get("adjustment"),
        ),
        *(
            [("bootstrap", f"{analysis.get('bootstrap_resamples')} resamples, seed {analysis.get('seed')}")]
            if "bootstrap_resamples" in analysis
            else []
        ),
        ("exclusion rules applied", analysis.get("exclusions_applied")),
    ]
    lines = [
        "### The analysis",
        "",
        *_table(rows),
        "",
        f"Analysed: {_value(counts.get('annotators'))} annotators, {_value(counts.get('items'))} items, "
        f"{_value(counts.get('ratings'))} ratings ({_value(counts.get('scores'))} scores).",
        "",
    ]
    rules = exclusions.get("rules") or {}
    if rules:
        lines += ["**Exclusion rules**", ""]
        lines += [f"- {rule}: {description}" for rule, description in rules.items()]
        lines.append("")
    steps = exclusions.get("steps") or []
    if steps:
        lines += ["| step | rule | annotators removed | ratings removed |", "|---|---|---|---|"]
        lines += [
            f"| {step.get('rule')} | {_cell(step.get('description'))} | {step.get('annotators')} | "
            f"{step.get('ratings')} |"
            for step in steps
        ]
        lines.append("")
    if exclusions:
        lines += [
            f"Before the rules: {_value(exclusions.get('annotators_before'))} annotators, "
            f"{_value(exclusions.get('ratings_before'))} ratings; removed: "
            f"{_value(exclusions.get('annotators_removed'))} annotators, {_value(exclusions.get('ratings_removed'))} "
            "ratings.",
            "",
        ]
    return lines


def protocol_markdown(manifest: str) -> str:
    """``protocol.json``'s text as Markdown: per study how the images were made (when known), what annotators saw,
    the analysis and its exclusions; then the software versions."""
    document = json.loads(manifest)
    lines = ["# Protocol", "", f"Schema `{document.get('schema')}`; the same facts as `protocol.json`.", ""]
    for study in document.get("studies", []):
        title = study.get("title")
        lines += [f"## {study.get('study')}" + (f": {title}" if title and title != study.get("study") else ""), ""]
        if "model" in study:
            lines += _generation(study) + _annotators(study)
        else:
            lines += ["How the images were made and what annotators saw are not known to this export.", ""]
        lines += _analysis(study)
    software = document.get("software") or {}
    if software:
        lines += ["## Software", "", "| package | version |", "|---|---|"]
        lines += [f"| {package} | {version} |" for package, version in software.items()]
        lines.append("")
    return "\n".join(lines)
