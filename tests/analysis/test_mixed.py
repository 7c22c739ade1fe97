"""The crossed mixed model against statsmodels' MixedLM and against the balanced two-way ANOVA in closed form."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.stats import mixed
from analysis.stats.judgments import paired_judgments
from analysis.stats.mixed import CrossedGroups, effect_of, fit_crossed
from tests.analysis.simulate import simulate_ratings


def crossed_data(*, annotators=12, items=15, missing=0.0, seed=1, sd_a=0.6, sd_i=0.8):
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(annotators), items)
    i = np.tile(np.arange(items), annotators)
    if missing:
        keep = rng.random(a.size) >= missing
        a, i = a[keep], i[keep]
    y = 0.4 + rng.normal(0, sd_a, annotators)[a] + rng.normal(0, sd_i, items)[i] + rng.normal(0, 1.5, a.size)
    x = rng.choice([-1.0, 1.0], a.size)
    return a, i, y, x


def gls_standard_errors(a, i, X, result) -> np.ndarray:
    """SEs of the fixed effects from a dense V built with statsmodels' variance estimates: (X'V⁻¹X)⁻¹."""
    Za = (a[:, None] == np.arange(a.max() + 1)).astype(float)
    Zi = (i[:, None] == np.arange(i.max() + 1)).astype(float)
    V = result.scale * np.eye(a.size) + result.vcomp[0] * Za @ Za.T + result.vcomp[1] * Zi @ Zi.T
    return np.sqrt(np.diag(np.linalg.inv(X.T @ np.linalg.solve(V, X))))


def statsmodels_fit(a, i, y, x=None, reml=True):
    frame = pd.DataFrame({"y": y, "a": a, "i": i, "g": 1, "x": 0.0 if x is None else x})
    model = sm.MixedLM.from_formula(
        "y ~ x" if x is not None else "y ~ 1", groups="g", vc_formula={"a": "0 + C(a)", "i": "0 + C(i)"}, data=frame
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(reml=reml, method="lbfgs")
    assert result.converged
    return result


@pytest.mark.parametrize("missing", [0.0, 0.3])
@pytest.mark.parametrize("reml", [True, False])
def test_matches_statsmodels(missing, reml):
    a, i, y, _ = crossed_data(missing=missing)
    ours = fit_crossed(y=y, annotator=a, item=i, reml=reml)
    theirs = statsmodels_fit(a, i, y, reml=reml)
    assert ours.model == "crossed random intercepts for annotators and items"
    assert ours.coefficients[0] == pytest.approx(theirs.fe_params.iloc[0], abs=1e-5)
    assert ours.se(0) == pytest.approx(theirs.bse_fe.iloc[0], rel=2e-3)
    assert ours.variance["annotator"] == pytest.approx(theirs.vcomp[0], rel=2e-3)
    assert ours.variance["item"] == pytest.approx(theirs.vcomp[1], rel=2e-3)
    assert ours.residual == pytest.approx(theirs.scale, rel=1e-3)
    assert -ours.deviance / 2 == pytest.approx(theirs.llf, abs=1e-4)


def test_covariate_matches_statsmodels():
    a, i, y, x = crossed_data(missing=0.2, seed=4)
    X = np.column_stack([np.ones_like(x), x])
    ours = fit_crossed(y=y, annotator=a, item=i, X=X, names=("intercept", "x"))
    theirs = statsmodels_fit(a, i, y, x)
    np.testing.assert_allclose(ours.coefficients, theirs.fe_params.to_numpy(), atol=1e-5)
    # statsmodels' own SEs come from its numerical observed information (within 0.5%); ours, like lme4's, are the
    # GLS covariance σ²(X'H⁻¹X)⁻¹ at the optimum: rebuilt densely from statsmodels' variance estimates
    np.testing.assert_allclose([ours.se(0), ours.se(1)], theirs.bse_fe.to_numpy(), rtol=5e-3)
    np.testing.assert_allclose([ours.se(0), ours.se(1)], gls_standard_errors(a, i, X, theirs), rtol=1e-3)


def test_balanced_design_reproduces_the_anova_closed_form_and_satterthwaite_df():
    """Balanced, positive components: REML = ANOVA estimates, Var(μ̂) = (MSA + MSI − MSE)/(A·I), and the
    Satterthwaite df of that combination of mean squares is the exact classical one."""
    A, I = 9, 11
    a, i, y, _ = crossed_data(annotators=A, items=I, seed=7, sd_a=0.9, sd_i=1.1)
    table = y.reshape(A, I)
    grand = table.mean()
    ms_a = I * ((table.mean(axis=1) - grand) ** 2).sum() / (A - 1)
    ms_i = A * ((table.mean(axis=0) - grand) ** 2).sum() / (I - 1)
    resid = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0, keepdims=True) + grand
    ms_e = (resid**2).sum() / ((A - 1) * (I - 1))
    assert ms_a > ms_e and ms_i > ms_e  # so the ANOVA estimates are the REML ones
    fit = fit_crossed(y=y, annotator=a, item=i)
    assert fit.residual == pytest.approx(ms_e, rel=1e-5)
    assert fit.variance["annotator"] == pytest.approx((ms_a - ms_e) / I, rel=1e-4)
    assert fit.variance["item"] == pytest.approx((ms_i - ms_e) / A, rel=1e-4)
    combination = ms_a + ms_i - ms_e
    assert fit.se(0) ** 2 == pytest.approx(combination / (A * I), rel=1e-4)
    df = combination**2 / (ms_a**2 / (A - 1) + ms_i**2 / (I - 1) + ms_e**2 / ((A - 1) * (I - 1)))
    assert fit.df[0] == pytest.approx(df, rel=1e-3)
    effect = effect_of(fit)
    from scipy import stats

    assert effect.p == pytest.approx(2 * stats.t.sf(abs(grand) / np.sqrt(combination / (A * I)), df), rel=1e-3)


def test_boundary_component_is_removed_and_reported():
    rng = np.random.default_rng(3)
    A, I = 10, 12
    a, i = np.repeat(np.arange(A), I), np.tile(np.arange(I), A)
    y = 0.2 + rng.normal(0, 1.0, I)[i] + rng.normal(0, 1.0, a.size)  # no annotator variation at all
    a_means = y.reshape(A, I).mean(axis=1)
    # make the annotators' means exactly equal, so the annotator variance estimate is 0
    y = y - (a_means - a_means.mean())[a]
    fit = fit_crossed(y=y, annotator=a, item=i)
    assert fit.variance["annotator"] == 0
    assert fit.simplified == ("annotator variance estimated at 0: a singular fit",)
    assert fit.model == "random intercept for items only (annotator variance estimated at 0: a singular fit)"
    assert fit.singular and fit.converged
    theirs = sm.MixedLM(y, np.ones((y.size, 1)), groups=i).fit(reml=True, method="lbfgs")
    assert fit.coefficients[0] == pytest.approx(np.asarray(theirs.fe_params)[0], abs=1e-6)
    assert fit.se(0) == pytest.approx(np.asarray(theirs.bse_fe)[0], rel=2e-3)
    assert fit.variance["item"] == pytest.approx(float(np.asarray(theirs.cov_re)[0, 0]), rel=2e-3)


def test_single_annotator_is_stated_not_silent():
    a, i, y, _ = crossed_data(annotators=1, items=20)
    fit = fit_crossed(y=y, annotator=a, item=i)
    assert "annotator variance not estimable: only one annotator" in fit.simplified
    assert fit.model.startswith("random intercept for items only") or fit.model.startswith("no random effects")


def test_one_judgment_per_level_everywhere_falls_back_to_ols():
    y = np.array([1.0, 2.0, 4.0, 3.0])
    fit = fit_crossed(y=y, annotator=np.arange(4), item=np.arange(4))
    assert fit.model.startswith("no random effects: ordinary least squares")
    assert fit.coefficients[0] == pytest.approx(2.5)
    assert fit.se(0) == pytest.approx(np.std(y, ddof=1) / 2)
    assert fit.df[0] == 3


def test_constant_response_is_refused():
    with pytest.raises(ValueError, match="does not vary"):
        fit_crossed(y=np.ones(6), annotator=np.array([0, 0, 1, 1, 2, 2]), item=np.array([0, 1, 0, 1, 0, 1]))


@pytest.mark.parametrize("path", ["eigen", "grams", "dense", "sparse"])
def test_every_linear_algebra_path_gives_the_same_fit(path, monkeypatch):
    frame = simulate_ratings(annotators=14, items=13, missing=0.0 if path == "eigen" else 0.35, seed=5, rounded=False)
    judgments = paired_judgments(frame)
    reference = statsmodels_fit(judgments.annotator, judgments.item, judgments.difference)
    if path == "dense":
        monkeypatch.setattr(np, "unique", lambda values, *args, **kw: np.arange(100.0))
        groups = CrossedGroups(annotator=judgments.annotator, item=judgments.item)
        monkeypatch.undo()
        assert groups.grams is None
    elif path == "sparse":
        monkeypatch.setattr(mixed, "DENSE_LIMIT", 10)
        groups = CrossedGroups(annotator=judgments.annotator, item=judgments.item)
        monkeypatch.undo()
    else:
        groups = CrossedGroups(annotator=judgments.annotator, item=judgments.item)
        assert (groups.eigen is not None) == (path == "eigen")
    fit = fit_crossed(y=judgments.difference, annotator=judgments.annotator, item=judgments.item, groups=groups)
    assert fit.coefficients[0] == pytest.approx(reference.fe_params.iloc[0], abs=1e-5)
    assert fit.se(0) == pytest.approx(reference.bse_fe.iloc[0], rel=2e-3)


def test_a_response_varying_only_by_rounding_error_is_constant_everywhere():
    """1.0 and 0.9999999999999996 are one value: no model is fitted to them (it would divide by a zero residual), the
    study report gives the constant model, and the unit tests report no spread rather than a huge t."""
    from analysis.stats.mixed import varies
    from analysis.stats.report import study_report
    from analysis.stats.robustness import paired_t

    annotator, item = np.repeat(np.arange(4), 5), np.tile(np.arange(5), 4)
    y = np.ones(20)
    y[::3] = 0.9999999999999996
    assert not varies(y) and varies(np.array([1.0, 1.0 + 1e-6])) and not varies(np.array([]))
    with pytest.raises(ValueError, match="does not vary"):
        fit_crossed(y=y, annotator=annotator, item=item)
    assert paired_t(y).p_value is None
    rows = []
    for a, i, d in zip(annotator, item, y, strict=True):
        rows += [
            {"annotator": f"a{a}", "item": f"i{i}", "condition": "baseline", "score": 3.0, "position": "left"},
            {"annotator": f"a{a}", "item": f"i{i}", "condition": "ours", "score": 3.0 + d, "position": "right"},
        ]
    frame = pd.DataFrame(rows).assign(seconds=5.0)
    report = study_report(frame, study="rounded", resamples=50)
    assert report.mixed_model.model == "not fitted: every judgment has the same difference"
    assert report.mixed_model.effect.estimate == pytest.approx(1.0) and report.by_item.d_z is None


def test_a_response_the_model_fits_exactly_is_refused_and_the_position_check_says_so():
    """Differences that depend on the side alone (as when an annotator gives one image a fixed score and the other a
    score by its place) leave the position model no residual: it is refused in words, not a division by zero, and
    the study report's position check carries the words."""
    from analysis.stats.position import position_bias

    annotator, item = np.repeat(np.arange(4), 6), np.tile(np.arange(6), 4)
    side = np.where((annotator + item) % 2 == 0, 1.0, -1.0)
    y = 2.0 + 1.5 * side
    with pytest.raises(ValueError, match="fits the response exactly"):
        fit_crossed(y=y, annotator=annotator, item=item, X=np.column_stack([np.ones(24), side]), names=("a", "b"))
    rows = []
    for a, i, s, d in zip(annotator, item, side, y, strict=True):
        ours, baseline = ("left", "right") if s > 0 else ("right", "left")
        rows += [
            {"annotator": f"a{a}", "item": f"i{i}", "condition": "baseline", "score": 3.0, "position": baseline},
            {"annotator": f"a{a}", "item": f"i{i}", "condition": "ours", "score": 3.0 + d, "position": ours},
        ]
    check = position_bias(paired_judgments(pd.DataFrame(rows).assign(seconds=4.0)))
    assert check.left_minus_right is None and "fits the response exactly" in check.note
