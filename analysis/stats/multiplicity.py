"""Adjusting p-values across several studies: Holm (family-wise error) by default, Benjamini–Hochberg on request."""

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

METHODS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
_STATSMODELS_METHODS = {"holm": "holm", "bh": "fdr_bh"}


def adjust(p_values: Sequence[float | None], *, method: str = "holm") -> list[float | None]:
    """Adjusted p-values in the input order; a missing p (None) stays missing and does not count."""
    if method not in METHODS:
        raise ValueError(f"Unknown adjustment {method!r}; choose from {', '.join(METHODS)}.")
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    p = np.array([p_values[i] for i in present], dtype=float)
    adjusted = multipletests(p, method=_STATSMODELS_METHODS[method])[1]
    for index, value in zip(present, adjusted, strict=True):
        out[index] = float(value)
    return out
