"""Holm and Benjamini–Hochberg adjustment, held equal to statsmodels' ``multipletests`` (the reference)."""

import gc

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.stats.multiplicity import adjust


@pytest.mark.parametrize(("method", "reference"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjusted_p_values_equal_statsmodels(method, reference, monkeypatch):
    # its Holm branch collects garbage on every call (seconds over this loop); the values do not depend on it
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    rng = np.random.default_rng(7)
    for size in (1, 2, 3, 7, 50):
        for _ in range(20):
            p = rng.uniform(0, 1, size) ** 3
            p[rng.uniform(size=size) < 0.2] = p[0]  # ties
            expected = multipletests(p, method=reference)[1]
            assert adjust(list(p), method=method) == pytest.approx(list(expected), rel=1e-12, abs=0)


def test_missing_p_values_stay_missing_and_do_not_count():
    assert adjust([0.01, None, 0.04], method="holm") == pytest.approx([0.02, None, 0.04])
    assert adjust([None, None]) == [None, None]
    assert adjust([0.6, 0.7], method="holm") == [1.0, 1.0]


def test_an_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match="Unknown adjustment 'bonferroni'"):
        adjust([0.1], method="bonferroni")
