"""Adjusting p-values across several studies: Holm (family-wise error) by default, Benjamini–Hochberg on request."""
from collections.abc import Sequence

import numpy as np

METHODS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def adjust(p_values: Sequence[float | None], *, method: str = "holm") -> list[float | None]:
    """Adjusted p-values in the input order; a missing p (None) stays missing and does not count."""
    if method not in METHODS:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    p = np.array([p_values[i] for i in present], dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adjusted = np.minimum.accumulate((m / np.arange(m, 0, -1) * ranked[::-1]))[::-1]
    adjusted = np.minimum(adjusted, 1.0)
    values = np.empty(m)
    values[order] = adjusted
    for index, value in zip(present, values):
        out[index] = float(value)
    return out
