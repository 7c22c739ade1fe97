"""The tidy ratings' codebook, from ``analysis.stats.tidy.CODEBOOK``: ``codebook.md`` for readers and
``codebook.schema.json``, a JSON Schema of one row, for programs."""

import json

from .stats import choices
from .stats.tidy import CODEBOOK, COLUMNS, CONDITIONS, KEY, POSITIONS, SECONDS_MODES, SLOTS

#: The file names the codebook is written under.
CODEBOOK_FILES = {"markdown": "codebook.md", "schema": "codebook.schema.json"}
SCHEMA_ID = "evalsite.tidy-ratings/1"


def _allowed(column) -> str:
    if column.allowed == POSITIONS + SLOTS:
        return f"{', '.join(f'`{value}`' for value in POSITIONS)}, or `1`–`{SLOTS[-1]}`"
    if column.allowed:
        return ", ".join(f"`{value}`" for value in column.allowed)
    if column.name == "condition":
        return f"{', '.join(f'`{value}`' for value in CONDITIONS)} (a paired study), or any key `{KEY.pattern}`"
    if column.pattern:
        return f"a key `{KEY.pattern}`" + ("; may be empty" if column.nullable else "")
    if column.minimum is not None and column.maximum is not None:
        return f"whole numbers {column.minimum:g}–{column.maximum:g}"
    if column.minimum is not None:
        return f"≥ {column.minimum:g}" + ("; empty when unknown" if column.nullable else "")
    return "any text, not empty" if column.type == "string" else ""


def _table(codebook) -> list[str]:
    rows = []
    for column in codebook:
        kind = column.type + (", may be empty" if column.nullable else "")
        rows.append(
            f"| `{column.name}` | {kind} | {column.units or '–'} | {_allowed(column) or '–'} | {column.description} |"
        )
    return rows


def codebook_markdown() -> str:
    """Every tidy column with its type, units, allowed values and meaning, and the rules that join rows."""
    lines = [
        "# Codebook: the tidy ratings",
        "",
        "`<study>-ratings.csv` and `<study>-ratings.parquet` hold the same rows: one per image rating, two per "
        "rating of a pair on each criterion (its baseline and its ours image). The CSV marks text a spreadsheet "
        "would run as a formula with a leading `'` (a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage "
        "return); the Parquet file keeps the raw text. `codebook.schema.json` is a JSON Schema of one row.",
        "",
        "| column | type | units | allowed values | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += _table(CODEBOOK)
    lines += [
        "",
        "## Rows and pairs",
        "",
        f"- A rating is the two rows with the same `study`, `annotator`, `item` and `criterion`: one of each "
        f"`condition` ({', '.join(CONDITIONS)}), on different `position`s ({', '.join(POSITIONS)}). In a study of "
        "other conditions (K methods on one screen) the rows of a screen are one of each condition shown, each at "
        "its own `position` (its place from the left, or left and right for two), all with the screen's `seconds`; "
        "a screen may lack a condition.",
        "- Each annotator rates an item at most once, on every criterion of the study at once. The analysis takes "
        "ours − baseline per rating, each criterion on its own (a study of several is reported as `<study>.<key>`).",
        f"- `seconds`: in these files {SECONDS_MODES['pair']}. A file from a tool that times each image "
        f"separately is read with `--seconds image`: {SECONDS_MODES['image']}.",
        "- Other columns are refused by the readers (`import_ratings`, `evalsite-analyze`) unless asked to leave "
        "them out (`import_ratings --extra-columns ignore`) or carry them along (`evalsite-analyze "
        "--extra-columns keep`).",
        "",
    ]
    lines += [
        "## Pairwise judgments",
        "",
        "A study that asks annotators to choose between two images writes `<study>-judgments.csv` and "
        "`<study>-judgments.parquet` instead: one row per choice (`codebook.schema.json` describes the ratings' "
        "rows only).",
        "",
        "| column | type | units | allowed values | meaning |",
        "|---|---|---|---|---|",
        *_table(choices.CODEBOOK),
        "",
        "- Each annotator judges a pair of conditions on an item at most once per criterion (either side order).",
        "- The analysis fits Bradley–Terry strengths (Davidson's model when there are ties) per criterion.",
        "",
    ]
    return "\n".join(lines)


def codebook_schema() -> str:
    """A JSON Schema (2020-12) of one tidy row: each column's type, units, allowed values and meaning."""
    properties = {}
    for column in CODEBOOK:
        spec: dict = {"type": [column.type, "null"] if column.nullable else column.type}
        spec["description"] = column.description
        if column.units:
            spec["x-units"] = column.units
        if column.allowed:
            spec["enum"] = list(column.allowed)
        if column.pattern:
            spec["pattern"] = column.pattern
        if column.minimum is not None:
            spec["minimum"] = column.minimum
        if column.maximum is not None:
            spec["maximum"] = column.maximum
        if column.type == "string" and not column.allowed and not column.pattern:
            spec["minLength"] = 1
        properties[column.name] = spec
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "A tidy rating row",
        "description": "One image rating; a rating of a pair is two rows (codebook.md).",
        "type": "object",
        "properties": properties,
        "required": list(COLUMNS),
        "additionalProperties": False,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
