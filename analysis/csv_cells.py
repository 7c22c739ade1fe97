"""Text cells of CSV files that open in spreadsheets: values from outside (Prolific ids, prompts, labels) must not
run as formulas (CSV injection).

OWASP's rule: a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``,
which spreadsheets read as "text" and do not show. To keep the files lossless for EvalSite's own imports, a value
that begins with ``'`` followed by something that would need the mark gets one too, and ``restore`` undoes exactly
this. JSON and Parquet keep the raw values.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_mark(value: str) -> bool:
    if value.startswith(FORMULA_STARTS):
        return True
    return value.startswith("'") and _needs_mark(value[1:])


def neutralise(value: object) -> object:
    """``value`` with a leading ``'`` when a spreadsheet would take it for a formula; non-text values as they are."""
    if isinstance(value, str) and _needs_mark(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The value ``neutralise`` was given (for text read back from an EvalSite CSV file)."""
    if value.startswith("'") and _needs_mark(value[1:]):
        return value[1:]
    return value
