"""The tables of a K-condition rating study (one criterion's ``ConditionComparison``): the estimated means, the
pairwise contrasts and the omnibus test, each as LaTeX, Markdown, CSV and JSON.

- **Means**: one column per condition, the reference first; rows the model-estimated mean (as emmeans) with its CI,
  the raw mean (SD) and the number of scores. The note names the model, its fit and the df method.
- **Contrasts**: every pair, condition − versus, the contrasts with the reference first: estimate, SE, Satterthwaite
  df, t, p, p adjusted over the family (``ConditionComparison.adjustment``, Holm by default) and the CI (Bonferroni's
  under Holm, Tukey's under Tukey, as emmeans makes them). The note gives the omnibus F test. Given ``paired``
  (``stats.paired_contrasts``: each pair by its own difference model, the contrasts to report when annotators or
  prompts may favour conditions), the rows are those, with the Bonferroni global test in the note instead.
- **Omnibus**: the F test that all K conditions have the same mean: F, numerator and denominator df, p.

The tables are ``analysis.pairwise_tables.Table`` values and are written by its writers: every number shown by
``analysis.numbers``, LaTeX with booktabs rules and siunitx ``S`` columns (``\\usepackage{booktabs,siunitx,
graphicx}``) in a ``table`` as wide as a column (a ``table*`` for the contrasts and for a means table of more than three
conditions), shrunk
only when long names make it wider; CSV with the raw numbers and the condition names neutralised against formulas
(``analysis.csv_cells``); JSON with the raw values.
"""

from . import numbers
from .pairwise_tables import Table, check_name, table_csv, table_json, table_latex, table_markdown
from .stats.conditions import ADJUSTMENTS, ConditionComparison, Contrast
from .stats.paired_contrasts import ADJUSTMENTS as PAIRED_ADJUSTMENTS
from .stats.paired_contrasts import PairedContrasts

TABLES = ("means", "contrasts", "omnibus")
KIND = "conditions"
#: Means tables of more conditions than this are set across the page (``table*``): four columns of CIs are wider
#: than a 229.5 pt column.
NARROW_MEANS = 3
#: The adjusted p's column name under each adjustment.
ADJUSTED_NAMES = {"holm": "Holm", "tukey": "Tukey", "bh": "BH", "none": "unadjusted"}
#: How the notes name the CIs of the contrasts under each CI adjustment.
CI_NAMES = {"bonferroni": "Bonferroni-adjusted", "tukey": "Tukey-adjusted", "none": "unadjusted"}
DF_NAMES = {"satterthwaite": "Satterthwaite", "conservative": "conservative (fewest levels − 1)", "none": "no"}


def _level(comparison: ConditionComparison) -> str:
    return f"{100 * comparison.level:g}%"


def _criterion_note(criterion: str | None) -> list[str]:
    return [f"Criterion: {criterion}."] if criterion else []


def _range(low: float | None, high: float | None) -> str:
    """A CI of a mean (no signs shown: means are not differences)."""
    return f"[{numbers.number(low)}, {numbers.number(high)}]"


def _df_name(comparison: ConditionComparison) -> str:
    method = comparison.fit.df_method
    return DF_NAMES.get(method, method)


def _model_notes(comparison: ConditionComparison) -> list[str]:
    fit = comparison.fit
    counts = comparison.counts
    notes = [
        f"Model: {comparison.formula}, {fit.method}, {_df_name(comparison)} df; "
        f"{counts['scores']} scores by {counts['annotators']} annotators on {counts['items']} items; "
        f"reference: {comparison.reference}."
    ]
    if fit.simplified:
        notes.append(f"Fitted with {fit.model}.")
    if fit.df_note:
        notes.append(f"{fit.df_note[:1].upper()}{fit.df_note[1:]}.")
    if not fit.converged:
        notes.append(f"The model did not converge ({fit.convergence}): its tests are not to be trusted.")
    return notes


def _omnibus_note(comparison: ConditionComparison) -> str:
    test = comparison.omnibus
    return (
        f"Omnibus test that all {len(comparison.conditions)} conditions have the same mean: "
        f"F({test.numerator_df}, {numbers.number(test.denominator_df, 1)}) = {numbers.number(test.F)}, "
        f"p = {numbers.p_value(test.p)}."
    ).replace("p = < ", "p < ")


def means_table(comparison: ConditionComparison, criterion: str | None = None) -> Table:
    """One column per condition (reference first): estimated mean, its CI, raw mean (SD), scores."""
    level = _level(comparison)
    means = [comparison.mean(condition) for condition in comparison.conditions]
    raw = {row.condition: row for row in comparison.descriptives}
    described = [raw[condition] for condition in comparison.conditions]
    cells = (
        ("Model mean", *(numbers.number(m.estimate) for m in means)),
        (f"{level} CI", *(_range(*m.ci) for m in means)),
        ("Raw mean (SD)", *(f"{numbers.number(d.mean)} ({numbers.number(d.sd)})" for d in described)),
        ("Scores", *(str(d.n) for d in described)),
    )
    notes = [
        *_criterion_note(criterion),
        f"Model mean: the model's estimated mean score of each condition (as emmeans) with its {level} CI "
        f"({_df_name(comparison)} df); raw mean (SD) and scores over the condition's scores.",
        *_model_notes(comparison),
    ]
    rows = [
        {
            "condition": m.condition,
            "reference": m.condition == comparison.reference,
            "estimate": m.estimate,
            "se": m.se,
            "df": m.df,
            "ci": list(m.ci),
            "mean": d.mean,
            "sd": d.sd,
            "n": d.n,
        }
        for m, d in zip(means, described, strict=True)
    ]
    return Table(
        name="means",
        header=("Condition", *comparison.conditions),
        cells=cells,
        numeric=(False,) * (len(comparison.conditions) + 1),
        csv_header=("condition", "reference", "estimate", "se", "df", "ci_low", "ci_high", "mean", "sd", "n"),
        csv_rows=tuple(
            (
                row["condition"],
                row["reference"],
                row["estimate"],
                row["se"],
                row["df"],
                *row["ci"],
                row["mean"],
                row["sd"],
                row["n"],
            )
            for row in rows
        ),
        data={
            "table": "means",
            "criterion": criterion,
            **_model_data(comparison),
            "rows": rows,
        },
        notes=tuple(notes),
        kind=KIND,
        wide=len(comparison.conditions) > NARROW_MEANS,
    )


def ordered_contrasts(comparison: ConditionComparison | PairedContrasts) -> list[Contrast]:
    """The contrasts with the reference first (in the levels' order), then the others in the comparison's order."""
    return sorted(comparison.contrasts, key=lambda row: row.versus != comparison.reference)


def _paired_notes(paired: PairedContrasts) -> list[str]:
    """The paired contrasts' model, the global test, and what any pair's fit needs said."""
    notes = [
        f"Each pair of conditions by its own model: {paired.formula}, REML, Satterthwaite df, on the screens that "
        "scored both; its random intercepts are the by-annotator and by-item variation in that difference.",
        f"Global test that no two conditions differ (Bonferroni on the smallest p): p = "
        f"{numbers.p_value(paired.global_p)}.".replace("p = < ", "p < "),
    ]
    for fit in paired.fits:
        if fit.model.startswith("not fitted") or fit.singular or not fit.converged or fit.df_note:
            notes.append(f"{fit.condition} − {fit.versus}: {fit.model}" + ("" if fit.converged else ", not converged"))
    return notes


def _paired_data(paired: PairedContrasts) -> dict:
    return {
        "formula": paired.formula,
        "reference": paired.reference,
        "conditions": list(paired.conditions),
        "level": paired.level,
        "global_p": paired.global_p,
        "fits": [
            {
                "condition": f.condition,
                "versus": f.versus,
                "screens": f.screens,
                "model": f.model,
                "singular": f.singular,
                "converged": f.converged,
            }
            for f in paired.fits
        ],
    }


def contrasts_table(
    comparison: ConditionComparison, criterion: str | None = None, paired: PairedContrasts | None = None
) -> Table:
    """Every pair, condition − versus: estimate, SE, df, t, p, adjusted p and CI; from ``paired`` (each pair's own
    difference model, the contrasts to report when annotators or prompts may favour conditions) when given, else
    from the comparison's random-intercept model."""
    source = paired or comparison
    level = _level(comparison)
    adjusted = ADJUSTED_NAMES[source.adjustment]
    contrasts = ordered_contrasts(source)
    if paired is None:
        ci_adjustment = comparison.ci_adjustment
        adjustment_name = ADJUSTMENTS[comparison.adjustment]
        df_name = _df_name(comparison)
        model_notes = [_omnibus_note(comparison), *_model_notes(comparison)]
        model_data = {**_model_data(comparison), "omnibus": _omnibus_data(comparison)}
    else:
        ci_adjustment = paired.ci_adjustment
        adjustment_name = PAIRED_ADJUSTMENTS[paired.adjustment]
        df_name = "Satterthwaite"
        model_notes = _paired_notes(paired)
        model_data = _paired_data(paired)
    cells = tuple(
        (
            row.label,
            numbers.signed(row.estimate),
            numbers.number(row.se),
            numbers.number(row.df, 1),
            numbers.number(row.t),
            numbers.p_value(row.p),
            numbers.p_value(row.p_adjusted),
            numbers.interval(*row.ci),
        )
        for row in contrasts
    )
    family = len(contrasts)
    notes = [
        *_criterion_note(criterion),
        f"Estimate: the estimated mean of the first condition − the second's, with its SE, {df_name} "
        f"df and t test; p adjusted across the {family} contrasts by {adjustment_name}"
        + (" (not adjusted)" if source.adjustment == "none" else "")
        + f"; {level} CIs {CI_NAMES[ci_adjustment]}.",
        *model_notes,
    ]
    rows = [
        {
            "label": row.label,
            "condition": row.condition,
            "versus": row.versus,
            "reference": row.versus == source.reference,
            "estimate": row.estimate,
            "se": row.se,
            "df": row.df,
            "t": row.t,
            "p": row.p,
            "p_adjusted": row.p_adjusted,
            "ci": list(row.ci),
        }
        for row in contrasts
    ]
    return Table(
        name="contrasts",
        header=("Contrast", "Estimate", "SE", "df", "t", "p", f"p ({adjusted})", f"{level} CI"),
        cells=cells,
        numeric=(False, True, True, True, True, True, True, False),
        csv_header=(
            "condition",
            "versus",
            "estimate",
            "se",
            "df",
            "t",
            "p",
            "p_adjusted",
            "ci_low",
            "ci_high",
        ),
        csv_rows=tuple(
            (r.condition, r.versus, r.estimate, r.se, r.df, r.t, r.p, r.p_adjusted, *r.ci) for r in contrasts
        ),
        data={
            "table": "contrasts",
            "criterion": criterion,
            **model_data,
            "adjustment": source.adjustment,
            "ci_adjustment": ci_adjustment,
            "rows": rows,
        },
        notes=tuple(notes),
        latex_header=(
            "Contrast",
            "{Estimate}",
            "{SE}",
            "{df}",
            "{$t$}",
            "{$p$}",
            rf"{{$p_{{\mathrm{{{adjusted}}}}}$}}",
            f"{level} CI",
        ),
        kind=KIND,
        wide=True,
    )


def omnibus_table(comparison: ConditionComparison, criterion: str | None = None) -> Table:
    """The F test that all conditions have the same mean, in one row."""
    test = comparison.omnibus
    k = len(comparison.conditions)
    what = f"All {k} means equal"
    notes = [
        *_criterion_note(criterion),
        f"Wald F test that the {k - 1} condition coefficients are 0 (all {k} conditions have the same mean), "
        f"with {DF_NAMES.get(test.df_method, test.df_method)} denominator df (as lmerTest's anova).",
        *_model_notes(comparison),
    ]
    return Table(
        name="omnibus",
        header=("Test", "F", "Numerator df", "Denominator df", "p"),
        cells=(
            (
                what,
                numbers.number(test.F),
                str(test.numerator_df),
                numbers.number(test.denominator_df, 1),
                numbers.p_value(test.p),
            ),
        ),
        numeric=(False, True, True, True, True),
        csv_header=("test", "F", "numerator_df", "denominator_df", "p", "conditions"),
        csv_rows=((what, test.F, test.numerator_df, test.denominator_df, test.p, k),),
        data={"table": "omnibus", "criterion": criterion, **_model_data(comparison), **_omnibus_data(comparison)},
        notes=tuple(notes),
        latex_header=("Test", "{$F$}", "{df\\textsubscript{1}}", "{df\\textsubscript{2}}", "{$p$}"),
        kind=KIND,
    )


def _model_data(comparison: ConditionComparison) -> dict:
    fit = comparison.fit
    return {
        "formula": comparison.formula,
        "reference": comparison.reference,
        "conditions": list(comparison.conditions),
        "level": comparison.level,
        "method": fit.method,
        "df_method": fit.df_method,
        "model": fit.model,
        "converged": fit.converged,
        "counts": dict(comparison.counts),
    }


def _omnibus_data(comparison: ConditionComparison) -> dict:
    test = comparison.omnibus
    return {
        "F": test.F,
        "numerator_df": test.numerator_df,
        "denominator_df": test.denominator_df,
        "p": test.p,
        "df_method": test.df_method,
    }


def condition_tables(
    comparison: ConditionComparison, criterion: str | None = None, paired: PairedContrasts | None = None
) -> dict[str, Table]:
    """The three tables; the contrasts from ``paired`` when given (``contrasts_table``)."""
    return {
        "means": means_table(comparison, criterion),
        "contrasts": contrasts_table(comparison, criterion, paired),
        "omnibus": omnibus_table(comparison, criterion),
    }


def condition_table_documents(
    comparison: ConditionComparison,
    *,
    name: str = "conditions",
    criterion: str | None = None,
    paired: PairedContrasts | None = None,
) -> dict[str, str]:
    """``<name>-<table>.<ext>``: the means, the contrasts (from ``paired`` when given) and the omnibus test, each as
    ``.tex``, ``.md``, ``.csv`` and ``.json``. ``name`` must be a plain file name (letters, digits, ``.``, ``_``,
    ``-``)."""
    check_name(name)
    documents = {}
    for table_name, table in condition_tables(comparison, criterion, paired).items():
        documents[f"{name}-{table_name}.tex"] = table_latex(table, criterion)
        documents[f"{name}-{table_name}.md"] = table_markdown(table)
        documents[f"{name}-{table_name}.csv"] = table_csv(table)
        documents[f"{name}-{table_name}.json"] = table_json(table)
    return documents
