"""How every number of the result tables is written: one function per kind, used by the web page, ``summary.json``'s
table, Markdown, LaTeX and the paper table alike, so that they show the same values at the same precision."""

import math

#: What a cell shows for a value that is not defined (None or NaN).
MISSING = "–"
MINUS = "−"  # U+2212: a minus sign as wide as the plus


def _defined(value) -> bool:
    return value is not None and math.isfinite(value)


def number(value: float | None, digits: int = 2) -> str:
    """``value`` to ``digits`` decimals, a true minus sign for negatives."""
    return f"{value:.{digits}f}".replace("-", MINUS) if _defined(value) else MISSING


def signed(value: float | None, digits: int = 2) -> str:
    """``value`` with its sign always shown (a difference)."""
    return f"{value:+.{digits}f}".replace("-", MINUS) if _defined(value) else MISSING


def interval(low: float | None, high: float | None, digits: int = 2) -> str:
    """A confidence interval of a difference, ``[−0.10, +0.52]``."""
    return f"[{signed(low, digits)}, {signed(high, digits)}]"


def p_value(value: float | None) -> str:
    """A p-value to three decimals, ``< 0.001`` below that."""
    if not _defined(value):
        return MISSING
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def percent(share: float | None) -> str:
    """A share as a whole percentage (without the sign)."""
    return f"{100 * share:.0f}" if _defined(share) else MISSING


def count(n: int) -> str:
    """A count of images, ``5K`` for whole thousands."""
    return f"{n // 1000}K" if n >= 1000 and n % 1000 == 0 else str(n)
