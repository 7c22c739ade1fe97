"""The tables of a pairwise-preference study (one criterion's ``PairwiseResult``): the leaderboard, the K×K win-rate
matrix and the per-pair tests, each as LaTeX, Markdown, CSV and JSON.

- **Leaderboard**: rank, condition, log strength with its bootstrap CI, relative strength exp(log strength) (the
  odds of being preferred over the reference, ties aside), win rate over all its judgments (a tie counting half),
  judgments; in the leaderboard's order (strongest first).
- **Win rates**: rate[row, column], the share of row-vs-column judgments that prefer the row (a tie counting
  half), rows and columns in the leaderboard's order; the diagonal is empty.
- **Pair tests**: each pair, the stronger condition first, the difference of log strengths with its SE, Wald z, p
  and p adjusted across the pairs (``PairwiseResult.adjustment``, Holm by default).

Every number shown is written by ``analysis.numbers`` (as the results table's); LaTeX uses booktabs rules and
siunitx ``S`` columns (needs ``\\usepackage{booktabs,siunitx,graphicx}``), a ``table`` as wide as a column (a
``table*`` for a win-rate matrix of more than five conditions), shrunk to it only when long names make it wider.
CSV and JSON keep the raw numbers (CSV's text cells, the condition names, neutralised against formulas by
``analysis.csv_cells``; JSON's raw).
"""

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from . import numbers
from .csv_cells import neutralise
from .stats.multiplicity import METHODS
from .stats.pairwise import PairTest, PairwiseResult
from .tables import _latex_header, latex_number, latex_text

TABLES = ("leaderboard", "win-rates", "pair-tests")
FORMATS = {"latex": "tex", "markdown": "md", "csv": "csv", "json": "json"}
ADJUSTED_NAMES = {"holm": "Holm", "bh": "BH"}
#: What the win-rate matrix's cells mean, in every format.
READING = "share of judgments in which the row condition beats the column condition (a tie counts half)"
#: Symbols the notes use beyond those ``tables.latex_text`` sets.
LATEX_GREEK = {"ν": r"$\nu$", "α": r"$\alpha$"}
#: Win-rate matrices of more conditions than this are set across the page (``table*``).
NARROW_CONDITIONS = 5
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Table:
    """One table: display ``header`` and text ``cells`` (Markdown, LaTeX), which of its columns are numbers
    (siunitx ``S`` columns), raw ``csv_header``/``csv_rows`` (CSV), ``data`` (JSON) and ``notes``."""

    name: str
    header: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    csv_header: tuple[str, ...]
    csv_rows: tuple[tuple, ...]
    data: dict
    notes: tuple[str, ...]
    latex_header: tuple[str, ...] = ()
    #: The columns LaTeX shows (all when empty): the leaderboard leaves out its rank, which its order shows.
    latex_columns: tuple[int, ...] = ()
    #: The kind of study, in the LaTeX comment and label (``tab:<kind>-<name>-<criterion>``).
    kind: str = "pairwise"
    #: Set across the page in LaTeX (a ``table*``) rather than in a column.
    wide: bool = False


def _condition_totals(result: PairwiseResult) -> dict[str, tuple[float | None, int]]:
    """Per condition: (win rate over all its judgments, a tie counting half; judgments)."""
    totals = {}
    for i, condition in enumerate(result.conditions):
        n = sum(result.comparisons[i])
        won = sum((rate or 0.0) * count for rate, count in zip(result.win_rate[i], result.comparisons[i], strict=True))
        totals[condition] = (won / n if n else None, n)
    return totals


def _order(result: PairwiseResult) -> list[int]:
    return [result.conditions.index(condition) for condition in result.leaderboard]


def _criterion_note(criterion: str | None) -> list[str]:
    return [f"Criterion: {criterion}."] if criterion else []


def _fit_notes(result: PairwiseResult) -> list[str]:
    notes = [
        f"{result.model} model fitted by maximum likelihood to {result.n} judgments by {result.annotators} "
        f"annotators on {result.items} items; log strengths (s) relative to {result.reference} (fixed at 0)."
    ]
    if result.tie_parameter is not None:
        low, high = result.tie_parameter_ci
        notes.append(
            f"Tie parameter ν = {numbers.number(result.tie_parameter)} [{numbers.number(low)}, {numbers.number(high)}]."
        )
    return notes


def leaderboard_table(result: PairwiseResult, criterion: str | None = None) -> Table:
    totals = _condition_totals(result)
    level = f"{result.level:.0%}"
    header = (
        "Rank",
        "Condition",
        "Log strength",
        f"{level} CI",
        "Relative strength",
        "Win rate %",
        "Judgments",
    )
    cells, csv_rows, rows = [], [], []
    for rank, i in enumerate(_order(result), start=1):
        strength = result.strengths[i]
        relative = math.exp(strength.log_strength)
        rate, n = totals[strength.condition]
        reference = strength.condition == result.reference
        cells.append(
            (
                str(rank),
                strength.condition,
                numbers.number(strength.log_strength),
                "reference" if reference else numbers.interval(*strength.ci),
                numbers.number(relative),
                numbers.percent(rate),
                str(n),
            )
        )
        low, high = strength.ci
        csv_rows.append((rank, strength.condition, strength.log_strength, low, high, strength.se, relative, rate, n))
        rows.append(
            {
                "rank": rank,
                "condition": strength.condition,
                "log_strength": strength.log_strength,
                "ci": [low, high],
                "se": strength.se,
                "relative_strength": relative,
                "win_rate": rate,
                "judgments": n,
                "reference": reference,
            }
        )
    notes = [
        *_criterion_note(criterion),
        *_fit_notes(result),
        f"Relative strength: exp(s), the odds that a condition is preferred over {result.reference} "
        f"(ties aside). CI: {result.method}, {result.valid_resamples} of {result.resamples} resamples valid. "
        "Win rate: share of the condition's judgments it won, a tie counting half; n: its judgments.",
    ]
    if result.alpha is not None:
        notes.append(
            f"Agreement: nominal Krippendorff's α = {numbers.number(result.alpha)} over {result.alpha_units} units."
        )
    if result.intransitive_triads:
        notes.append(f"{result.intransitive_triads} intransitive triad(s) in the majority preferences.")
    return Table(
        name="leaderboard",
        header=header,
        cells=tuple(cells),
        numeric=(True, False, True, False, True, True, True),
        csv_header=(
            "rank",
            "condition",
            "log_strength",
            "ci_low",
            "ci_high",
            "se",
            "relative_strength",
            "win_rate",
            "judgments",
        ),
        csv_rows=tuple(csv_rows),
        data={
            "table": "leaderboard",
            "criterion": criterion,
            "model": result.model,
            "reference": result.reference,
            "level": result.level,
            "method": result.method,
            "resamples": result.resamples,
            "valid_resamples": result.valid_resamples,
            "seed": result.seed,
            "tie_parameter": result.tie_parameter,
            "tie_parameter_ci": list(result.tie_parameter_ci),
            "alpha": result.alpha,
            "alpha_units": result.alpha_units,
            "alpha_method": result.alpha_method,
            "intransitive_triads": result.intransitive_triads,
            "judgments": result.n,
            "annotators": result.annotators,
            "items": result.items,
            "rows": rows,
        },
        notes=tuple(notes),
        latex_header=("Rank", "Condition", "{$s$}", f"{level} CI", "Relative strength", "Win %", "{$n$}"),
        latex_columns=(1, 2, 3, 4, 5, 6),
    )


def win_rate_table(result: PairwiseResult, criterion: str | None = None) -> Table:
    order = _order(result)
    names = [result.conditions[i] for i in order]
    rates = [[result.win_rate[i][j] for j in order] for i in order]
    counts = [[result.comparisons[i][j] for j in order] for i in order]
    header = ("Row beats column", *names)
    cells = tuple(
        (name, *(numbers.MISSING if r == c else numbers.number(rate) for c, rate in enumerate(rates[r])))
        for r, name in enumerate(names)
    )
    notes = [
        *_criterion_note(criterion),
        f"Each cell: the {READING}, over the judgments of that pair; rows and columns in the leaderboard's order.",
    ]
    return Table(
        name="win-rates",
        header=header,
        cells=cells,
        numeric=(False, *[True] * len(names)),
        csv_header=("row beats column", *names),
        csv_rows=tuple((name, *rates[r]) for r, name in enumerate(names)),
        data={
            "table": "win-rates",
            "criterion": criterion,
            "reading": READING,
            "conditions": names,
            "win_rate": rates,
            "comparisons": counts,
        },
        notes=tuple(notes),
        latex_header=("Row beats column", *names),
        wide=len(names) > NARROW_CONDITIONS,
    )


def _oriented(test: PairTest, rank: dict[str, int]) -> PairTest:
    """The test with the higher-ranked condition first (its difference and z turned round when needed)."""
    if rank[test.first] <= rank[test.second]:
        return test
    return replace(test, first=test.second, second=test.first, difference=-test.difference, z=-test.z)


def pair_tests_table(result: PairwiseResult, criterion: str | None = None) -> Table:
    rank = {condition: k for k, condition in enumerate(result.leaderboard)}
    tests = sorted((_oriented(t, rank) for t in result.pair_tests), key=lambda t: (rank[t.first], rank[t.second]))
    adjusted = ADJUSTED_NAMES[result.adjustment]
    header = ("First", "Second", "Difference", "SE", "t", "p", f"p ({adjusted})")
    cells = tuple(
        (
            t.first,
            t.second,
            numbers.number(t.difference),
            numbers.number(t.se),
            numbers.number(t.z),
            numbers.p_value(t.p),
            numbers.p_value(t.p_adjusted),
        )
        for t in tests
    )
    notes = [
        *_criterion_note(criterion),
        f"Difference (Δ): log strength of the first (higher-ranked) condition − the second's. p: {result.p_method}; "
        f"adjusted across the {len(tests)} pairs with {METHODS[result.adjustment]}.",
    ]
    return Table(
        name="pair-tests",
        header=header,
        cells=cells,
        numeric=(False, False, True, True, True, True, True),
        csv_header=("first", "second", "difference", "se", "t", "df", "p", "p_adjusted", "model_se"),
        csv_rows=tuple(
            (t.first, t.second, t.difference, t.se, t.z, t.df, t.p, t.p_adjusted, t.model_se) for t in tests
        ),
        data={
            "table": "pair-tests",
            "criterion": criterion,
            "method": result.p_method,
            "adjustment": result.adjustment,
            "adjustment_name": METHODS[result.adjustment],
            "rows": [
                {
                    "first": t.first,
                    "second": t.second,
                    "difference": t.difference,
                    "se": t.se,
                    "t": t.z,
                    "df": t.df,
                    "p": t.p,
                    "p_adjusted": t.p_adjusted,
                    "model_se": t.model_se,
                }
                for t in tests
            ],
        },
        notes=tuple(notes),
        latex_header=(
            "First",
            "Second",
            r"{$\Delta$}",
            "{SE}",
            "{$t$}",
            "{$p$}",
            rf"{{$p_{{\mathrm{{{adjusted}}}}}$}}",
        ),
    )


BUILDERS = {"leaderboard": leaderboard_table, "win-rates": win_rate_table, "pair-tests": pair_tests_table}


def pairwise_tables(result: PairwiseResult, criterion: str | None = None) -> dict[str, Table]:
    return {name: build(result, criterion) for name, build in BUILDERS.items()}


# --- Markdown --------------------------------------------------------------------------------------------------


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    lines = ["| " + " | ".join(_markdown_cell(h) for h in table.header) + " |"]
    lines.append("|" + "".join("---:|" if numeric else "---|" for numeric in table.numeric))
    lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in table.cells]
    return "\n".join([*lines, "", *table.notes]) + "\n"


# --- CSV and JSON ----------------------------------------------------------------------------------------------


def _csv_value(value):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return neutralise(value)


def table_csv(table: Table) -> str:
    """The raw numbers; every text cell (condition names, the header's included) neutralised against formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_csv_value(h) for h in table.csv_header])
    writer.writerows([_csv_value(value) for value in row] for row in table.csv_rows)
    return buffer.getvalue()


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def table_json(table: Table) -> str:
    """The raw values (numbers as JSON numbers, ``null`` where undefined) and the notes."""
    return json.dumps(_json_safe({**table.data, "notes": list(table.notes)}), indent=2, ensure_ascii=False) + "\n"


# --- LaTeX -----------------------------------------------------------------------------------------------------


def _latex_text(text: str) -> str:
    return "".join(LATEX_GREEK.get(char, char) for char in latex_text(text))


def _table_format(cells: Sequence[str]) -> str:
    """siunitx's ``table-format`` for a column of ``latex_number`` cells: comparator, sign, digits each side."""
    comparator = sign = False
    before, after = 1, 0
    for cell in cells:
        if cell.startswith("{"):
            continue
        comparator |= cell.startswith("<")
        number = cell.lstrip("<")
        sign |= number.startswith(("-", "+"))
        whole, _, fraction = number.lstrip("+-").partition(".")
        before, after = max(before, len(whole)), max(after, len(fraction))
    return f"{'<' if comparator else ''}{'-' if sign else ''}{before}.{after}"


def _label(kind: str, name: str, criterion: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (criterion or "").lower()).strip("-")
    return f"tab:{kind}-{name}" + (f"-{slug}" if slug else "")


def table_latex(table: Table, criterion: str | None = None) -> str:
    if table.latex_columns:
        keep = table.latex_columns
        table = replace(
            table,
            header=tuple(table.header[k] for k in keep),
            cells=tuple(tuple(row[k] for k in keep) for row in table.cells),
            numeric=tuple(table.numeric[k] for k in keep),
            latex_header=tuple(table.latex_header[k] for k in keep) if table.latex_header else (),
            latex_columns=(),
        )
    columns = list(zip(*table.cells, strict=True)) if table.cells else [()] * len(table.header)
    wide = table.wide
    spec = "".join(
        f"S[table-format={_table_format([latex_number(c) for c in column])}]" if numeric else ("l" if k == 0 else "c")
        for k, (numeric, column) in enumerate(zip(table.numeric, columns, strict=True))
    )
    names = table.latex_header or table.header
    header = " & ".join(
        name if name.startswith("{") else _latex_header(name, numeric, 16 if wide else 8)
        for name, numeric in zip(names, table.numeric, strict=True)
    )
    if table.name == "win-rates":  # the column names are condition names: escaped, turned vertical, braced in S columns
        header = " & ".join(
            [_latex_text(names[0])] + [r"{\rotatebox{90}{" + _latex_text(name) + "}}" for name in names[1:]]
        )
    rows = [
        " & ".join(
            latex_number(cell) if numeric else _latex_text(cell)
            for cell, numeric in zip(row, table.numeric, strict=True)
        )
        + r" \\"
        for row in table.cells
    ]
    environment, width = ("table*", r"\textwidth") if wide else ("table", r"\columnwidth")
    return "\n".join(
        [
            rf"% EvalSite {table.kind} {table.name} table; "
            r"the preamble needs \usepackage{booktabs,siunitx,graphicx}.",
            rf"\begin{{{environment}}}[tb]",
            r"\centering",
            r"\footnotesize",
            r"\setlength{\tabcolsep}{2pt}",
            r"\sisetup{table-align-comparator=false}",
            rf"\resizebox{{\ifdim\width>{width}{width}\else\width\fi}}{{!}}{{%",
            rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}}",
            r"\caption{" + " ".join(_latex_text(note) for note in table.notes) + "}",
            r"\label{" + _label(table.kind, table.name, criterion) + "}",
            rf"\end{{{environment}}}",
            "",
        ]
    )


# --- Documents -------------------------------------------------------------------------------------------------


def check_name(name: str) -> None:
    """Refuse a documents' ``name`` that is not a plain file name (it begins every file's name)."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise ValueError(f"name must be letters, digits, '.', '_' or '-' (not first); got {name!r}.")


def pairwise_table_documents(
    result: PairwiseResult, *, name: str = "pairwise", criterion: str | None = None
) -> dict[str, str]:
    """``<name>-<table>.<ext>``: the leaderboard, the win rates and the pair tests, each as ``.tex``, ``.md``,
    ``.csv`` and ``.json``. ``name`` must be a plain file name (letters, digits, ``.``, ``_``, ``-``)."""
    check_name(name)
    documents = {}
    for table_name, table in pairwise_tables(result, criterion).items():
        documents[f"{name}-{table_name}.tex"] = table_latex(table, criterion)
        documents[f"{name}-{table_name}.md"] = table_markdown(table)
        documents[f"{name}-{table_name}.csv"] = table_csv(table)
        documents[f"{name}-{table_name}.json"] = table_json(table)
    return documents
