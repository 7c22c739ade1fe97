"""Adjusting p-values across several studies: Holm (family-wise error) by default, Benjamini–Hochberg on request.

Both are computed here (a sort and a running extreme) rather than by statsmodels' ``multipletests``, whose Holm
branch runs a full garbage collection on every call (40 ms in a small process, more in a large one);
``tests/analysis/test_multiplicity.py`` holds them equal to statsmodels'.
"""

from collections.abc import Sequence

import numpy as np

METHODS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def _adjusted(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of a 1-d array of p-values (no missing ones), in its order."""
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":  # max over j ≤ i of (m − j + 1)·p_(j)
        values = np.maximum.accumulate(ranked * np.arange(m, 0, -1))
    elif method == "bh":  # min over j ≥ i of m/j·p_(j)
        values = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    out = np.empty(m)
    out[order] = np.minimum(values, 1.0)
    return out


def adjust(p_values: Sequence[float | None], *, method: str = "holm") -> list[float | None]:
    """Adjusted p-values in the input order; a missing p (None) stays missing and does not count."""
    if method not in METHODS:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    values = _adjusted(np.array([p_values[i] for i in present], dtype=float), method)
    for index, value in zip(present, values, strict=True):
        out[index] = float(value)
    return out
