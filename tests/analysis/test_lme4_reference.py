"""The crossed model against R's lme4/lmerTest on six incomplete designs (tests/analysis/lme4/).

The designs (``designs.py``) are what a crowd leaves: a sparse crowd where each annotator rated 1–60 of 200
prompts, the paper's 45 × 50 with dropouts and excluded annotators, half the annotators with one rating, large
components, and two with a component at the boundary 0 (lme4 calls them singular). ``reference.R`` fitted each
with lmerTest (REML, Satterthwaite) with BOBYQA's tolerances tightened; its output, ``reference.csv``, is stored, so
this test needs no R. Estimate, SE, df, p and variance components must agree to 1e-4 relative; a component lme4
puts at 0 (below 1e-12) must be 0 here too.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats.mixed import effect_of, fit_crossed
from tests.analysis.lme4.designs import DESIGNS, load

HERE = Path(__file__).resolve().parent / "lme4"
REFERENCE = pd.read_csv(HERE / "reference.csv", comment="#", skipinitialspace=True)
REFERENCE["singular"] = REFERENCE.singular.astype(str).str.strip().str.upper() == "TRUE"
TIGHT = REFERENCE[REFERENCE.control == "tight"]
RELATIVE = 1e-4


def fitted(design: str, model: str):
    frame = load(design)
    a = pd.factorize(frame.annotator, sort=True)[0]
    i = pd.factorize(frame.item, sort=True)[0]
    X = None if model == "intercept" else np.column_stack([np.ones(len(frame)), frame.x])
    names = ("(Intercept)",) if X is None else ("(Intercept)", "x")
    return fit_crossed(y=frame.d.to_numpy(float), annotator=a, item=i, X=X, names=names)


def test_the_references_cover_what_the_issue_asks():
    assert set(TIGHT.design) == set(DESIGNS) and len(DESIGNS) >= 5
    intercept = TIGHT[TIGHT.model == "intercept"]
    assert intercept.singular.any() and (~intercept.singular).any()
    both_interior = intercept[(intercept.var_annotator > 1e-3) & (intercept.var_item > 1e-3)]
    assert len(both_interior) >= 3
    assert (TIGHT["n"] < TIGHT["annotators"] * TIGHT["items"]).all()  # every design is incomplete


@pytest.mark.parametrize("model", ["intercept", "position"])
@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_matches_lmertest(design, model):
    fit = fitted(design, model)
    rows = TIGHT[(TIGHT.design == design) & (TIGHT.model == model)]
    assert fit.converged, fit.convergence
    assert fit.deviance == pytest.approx(rows.deviance.iloc[0], abs=1e-6)
    assert fit.singular == bool(rows.singular.iloc[0])
    assert fit.residual == pytest.approx(rows.var_residual.iloc[0], rel=RELATIVE)
    for component in ("annotator", "item"):
        theirs = rows[f"var_{component}"].iloc[0]
        if theirs < 1e-12:
            assert fit.variance[component] == 0.0
        else:
            assert fit.variance[component] == pytest.approx(theirs, rel=RELATIVE)
    for k, row in enumerate(rows.itertuples()):
        effect = effect_of(fit, k)
        assert effect.estimate == pytest.approx(row.estimate, rel=RELATIVE)
        assert effect.se == pytest.approx(row.se, rel=RELATIVE)
        assert effect.df == pytest.approx(row.df, rel=RELATIVE)
        assert effect.t == pytest.approx(row.t, rel=RELATIVE)
        assert effect.p == pytest.approx(row.p, rel=RELATIVE)


def test_lme4_defaults_stop_close_to_the_tight_optimum():
    """The stored default-tolerance fits differ from the tight ones by less than the 1e-4 compared above: the
    references do not hinge on how tightly R was run."""
    tight = TIGHT.set_index(["design", "model", "term"])
    default = REFERENCE[REFERENCE.control == "default"].set_index(["design", "model", "term"])
    for column in ("estimate", "se", "df", "p"):
        np.testing.assert_allclose(default[column], tight.loc[default.index, column], rtol=1e-4)
