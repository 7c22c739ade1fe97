"""The K-condition analysis (analysis/stats/conditions.py) against R's lmerTest and emmeans (tests/analysis/reference/).

``reference/designs.py`` drew four rating designs: K = 3 complete and balanced, K = 4 unbalanced with missing scores,
K = 3 with the annotator component at the boundary 0 (lme4 calls it singular), and K = 2. ``reference/conditions.R``
fitted each with lmerTest (REML, Satterthwaite, BOBYQA's tolerances tightened) and ran ``anova``, ``contest``,
``emmeans`` and ``contrast(..., "revpairwise")`` with adjust none, holm and tukey; its output, ``conditions.csv``, is
stored, so this test needs no R. Estimates and SEs must agree to 1e-6 relative, df to 1e-4 relative, p to 1e-6
absolute and 1e-4 relative. Tukey's p-values are the exception: R's ``ptukey`` (which emmeans calls) is accurate to
about 4e-8 absolute only (it gives 3.9e-8 for a contrast whose p lies below Bonferroni's bound of 6e-28), so there
they must agree to 1e-7 absolute, and to 1e-4 relative above 1e-3.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.stats.conditions import compare_conditions
from analysis.stats.mixed import combine_df, contrast, contrast_df, effect_of, f_test, fit_crossed
from analysis.stats.multiplicity import adjust
from tests.analysis.reference.designs import DESIGNS, REFERENCE, load

HERE = Path(__file__).resolve().parent / "reference"
R = pd.read_csv(HERE / "conditions.csv", comment="#", skipinitialspace=True, keep_default_na=False, na_values=["NA"])
ESTIMATE, DF, VARIANCE = 1e-6, 1e-4, 1e-5
P_ABSOLUTE, P_RELATIVE = 1e-6, 1e-4
TUKEY_ABSOLUTE = 1e-7


def rows(design: str, table: str, adjustment: str = "") -> pd.DataFrame:
    selected = R[(R.design == design) & (R.table == table)]
    return selected[selected.adjust == adjustment] if adjustment else selected


def close_p(ours, theirs):
    assert ours == pytest.approx(theirs, abs=P_ABSOLUTE)
    assert ours == pytest.approx(theirs, rel=P_RELATIVE)


@pytest.fixture(scope="module")
def analyses():
    return {
        (design, adjustment): compare_conditions(load(design), reference=REFERENCE, adjustment=adjustment)
        for design in DESIGNS
        for adjustment in ("holm", "tukey", "none")
    }


def test_the_references_cover_what_the_issue_asks():
    assert set(R.design) == set(DESIGNS)
    ks = {design: load(design).condition.nunique() for design in DESIGNS}
    assert sorted(set(ks.values())) == [2, 3, 4]
    singular = {design: rows(design, "fit").set_index("term").estimate["singular"] for design in DESIGNS}
    assert any(singular.values()) and not all(singular.values())
    unbalanced = load("k4-unbalanced")
    assert unbalanced.groupby("condition").size().nunique() > 1  # unequal counts per condition
    assert len(unbalanced) < 4 * unbalanced.groupby(["annotator", "item"]).ngroups  # missing scores
    balanced = load("k3-balanced")
    assert len(balanced) == 3 * balanced.annotator.nunique() * balanced.item.nunique()


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_fit_matches_lmertest(design, analyses):
    fit = analyses[design, "holm"].fit
    reference = rows(design, "fit").set_index("term").estimate
    assert fit.converged, fit.convergence
    assert fit.deviance == pytest.approx(reference["deviance"], abs=1e-6)
    assert fit.singular == bool(reference["singular"])
    assert fit.residual == pytest.approx(reference["var_residual"], rel=VARIANCE)
    for component in ("annotator", "item"):
        theirs = reference[f"var_{component}"]
        if theirs < 1e-12:
            assert fit.variance[component] == 0.0
        else:
            assert fit.variance[component] == pytest.approx(theirs, rel=VARIANCE)
    coefficients = rows(design, "coefficient")
    assert len(coefficients) == len(fit.coefficients)
    for k, row in enumerate(coefficients.itertuples()):
        effect = effect_of(fit, k)
        assert effect.estimate == pytest.approx(row.estimate, rel=ESTIMATE)
        assert effect.se == pytest.approx(row.se, rel=ESTIMATE)
        assert effect.df == pytest.approx(row.df, rel=DF)
        close_p(effect.p, row.p)


@pytest.mark.parametrize("table", ["anova", "contest"])
@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_omnibus_matches_lmertest(design, table, analyses):
    test = analyses[design, "holm"].omnibus
    row = rows(design, table).iloc[0]
    assert test.numerator_df == int(row.numdf) == load(design).condition.nunique() - 1
    assert test.F == pytest.approx(row.statistic, rel=ESTIMATE)
    assert test.denominator_df == pytest.approx(row.df, rel=DF)
    close_p(test.p, row.p)
    assert len(test.directions) == test.numerator_df


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_means_match_emmeans(design, analyses):
    result = analyses[design, "holm"]
    reference = rows(design, "mean")
    assert [row.condition for row in result.means] == list(reference.term)
    for ours, row in zip(result.means, reference.itertuples(), strict=True):
        assert ours.estimate == pytest.approx(row.estimate, rel=ESTIMATE)
        assert ours.se == pytest.approx(row.se, rel=ESTIMATE)
        assert ours.df == pytest.approx(row.df, rel=DF)
        assert ours.ci == pytest.approx((row.lower, row.upper), rel=ESTIMATE)


@pytest.mark.parametrize("adjustment", ["holm", "tukey", "none"])
@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_contrasts_match_emmeans(design, adjustment, analyses):
    result = analyses[design, adjustment]
    reference = rows(design, "contrast", adjustment)
    k = len(result.conditions)
    assert len(result.contrasts) == len(reference) == k * (k - 1) // 2
    assert [row.label for row in result.contrasts] == [term.replace(" - ", " − ") for term in reference.term]
    for ours, row in zip(result.contrasts, reference.itertuples(), strict=True):
        assert ours.estimate == pytest.approx(row.estimate, rel=ESTIMATE)
        assert ours.se == pytest.approx(row.se, rel=ESTIMATE)
        assert ours.df == pytest.approx(row.df, rel=DF)
        assert ours.t == pytest.approx(row.statistic, rel=ESTIMATE)
        if adjustment == "tukey":  # R's ptukey is good to about 4e-8 absolute, so not relative in the far tail
            assert ours.p_adjusted == pytest.approx(row.p, abs=TUKEY_ABSOLUTE)
            if row.p > 1e-3:
                assert ours.p_adjusted == pytest.approx(row.p, rel=P_RELATIVE)
        else:
            close_p(ours.p_adjusted, row.p)
        assert ours.ci == pytest.approx((row.lower, row.upper), rel=ESTIMATE)


def test_holm_adjusts_the_raw_p_values_and_tukey_lies_between_raw_and_one(analyses):
    holm, tukey = analyses["k4-unbalanced", "holm"], analyses["k4-unbalanced", "tukey"]
    raw = [row.p for row in holm.contrasts]
    assert [row.p_adjusted for row in holm.contrasts] == adjust(raw, method="holm")
    m = len(tukey.contrasts)
    for row in tukey.contrasts:
        assert row.p <= row.p_adjusted <= min(1.0, m * row.p)  # Tukey's p never exceeds Bonferroni's
    tail = tukey.contrast("upscale", "entropy")  # the far tail, beyond the integration's 1e-12
    assert tail.p < tail.p_adjusted < 1e-26
    assert holm.ci_adjustment == "bonferroni" and tukey.ci_adjustment == "tukey"


def test_two_conditions_give_the_coefficient_of_a_direct_fit():
    frame = load("k2-sparse")
    result = compare_conditions(frame, reference=REFERENCE)
    a = pd.factorize(frame.annotator, sort=True)[0]
    i = pd.factorize(frame.item, sort=True)[0]
    X = np.column_stack([np.ones(len(frame)), (frame.condition != REFERENCE).to_numpy(float)])
    direct = fit_crossed(y=frame.score.to_numpy(float), annotator=a, item=i, X=X, names=("(Intercept)", "entropy"))
    assert result.fit.coefficients[1] == pytest.approx(direct.coefficients[1], rel=1e-9)
    assert result.fit.se(1) == pytest.approx(direct.se(1), rel=1e-7)
    assert result.fit.df[1] == pytest.approx(direct.df[1], rel=1e-6)
    (only,) = result.contrasts
    assert only.estimate == pytest.approx(direct.coefficients[1], rel=1e-9)
    assert only.p == only.p_adjusted == pytest.approx(effect_of(direct, 1).p, rel=1e-6)
    assert result.omnibus.F == pytest.approx(effect_of(direct, 1).t ** 2, rel=1e-7)
    assert result.ci_adjustment == "none"


def test_contrast_df_of_a_unit_vector_is_the_coefficient_df(analyses):
    fit = analyses["k4-unbalanced", "holm"].fit
    for k in range(len(fit.coefficients)):
        unit = np.eye(len(fit.coefficients))[k]
        assert contrast_df(fit, unit) == pytest.approx(fit.df[k], rel=1e-12)
        assert contrast(fit, unit).p == pytest.approx(effect_of(fit, k).p, rel=1e-12)
        one_row = f_test(fit, unit[None, :])
        assert one_row.F == pytest.approx(effect_of(fit, k).t ** 2, rel=1e-12)
        assert one_row.denominator_df == pytest.approx(fit.df[k], rel=1e-12)
    with pytest.raises(ValueError, match="4 finite weights"):
        contrast_df(fit, [1.0, 0.0])
    nothing = contrast(fit, np.zeros(len(fit.coefficients)))
    assert nothing.se == 0.0 and nothing.t is None and nothing.p is None


def test_combine_df_follows_lmertest():
    assert combine_df([12.5]) == 12.5
    assert combine_df([30.0, 30.0 + 1e-10]) == pytest.approx(30.0)
    assert combine_df([40.0, 1.5]) == 2.0
    nu = np.array([10.0, 20.0, 50.0])
    expectation = float(np.sum(nu / (nu - 2)))
    assert combine_df(nu) == pytest.approx(2 * expectation / (expectation - 3))


def test_the_omnibus_test_and_means_do_not_depend_on_the_reference():
    frame = load("k3-balanced")
    plain = compare_conditions(frame, reference="plain")
    other = compare_conditions(frame, reference="upscale")
    assert other.conditions == ("upscale", "entropy", "plain")
    assert other.omnibus.F == pytest.approx(plain.omnibus.F, rel=1e-6)
    for name in plain.conditions:
        assert other.mean(name).estimate == pytest.approx(plain.mean(name).estimate, rel=1e-7)
        assert other.mean(name).se == pytest.approx(plain.mean(name).se, rel=1e-6)
    flipped = other.contrast("entropy", "upscale")
    assert flipped.estimate == pytest.approx(plain.contrast("entropy", "upscale").estimate, rel=1e-7)
    assert flipped.ci[0] < flipped.estimate < flipped.ci[1]


def test_levels_follow_a_categorical_order_and_descriptives_count_scores():
    frame = load("k4-unbalanced")
    frame["condition"] = pd.Categorical(frame.condition, categories=["upscale", "plain", "refine", "entropy"])
    result = compare_conditions(frame, reference="plain", adjustment="none")
    assert result.conditions == ("plain", "upscale", "refine", "entropy")
    assert result.fit.names[1] == "condition[T.upscale]"
    assert sum(row.n for row in result.descriptives) == len(frame) == result.counts["scores"]
    described = frame.groupby("condition", observed=True).score.agg(["mean", "std", "size"])
    for row in result.descriptives:
        assert row.n == described.loc[row.condition, "size"]
        assert row.mean == pytest.approx(described.loc[row.condition, "mean"], rel=1e-12)
        assert row.sd == pytest.approx(described.loc[row.condition, "std"], rel=1e-12)


def test_the_result_is_json_ready_and_has_a_summary(analyses):
    result = analyses["k3-near-singular", "tukey"]
    data = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert data["contrasts"][0]["label"] == "entropy − plain"
    assert "vcov_gradient" not in data["fit"]
    text = result.summary()
    assert "Omnibus: F(2," in text and "upscale − entropy" in text and "Tukey" in text
    with pytest.raises(KeyError, match="no-such"):
        result.mean("no-such")


def small_frame():
    return pd.DataFrame(
        {
            "annotator": [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2],
            "item": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            "condition": ["a", "b"] * 6,
            "score": [3, 5, 4, 6, 2, 6, 5, 5, 3, 7, 4, 4],
        }
    )


@pytest.mark.parametrize(
    ("change", "reference", "message"),
    [
        (lambda f: f.drop(columns=["item", "score"]), "a", "Missing column.*item, score"),
        (lambda f: f.assign(condition="a"), "a", "At least two conditions.*only a"),
        (lambda f: f, "c", "Unknown reference condition 'c'.*a, b"),
        (lambda f: f.assign(score=f.score.where(f.index != 3)), "a", "1 score.*not finite.*index 3"),
        (lambda f: f.assign(score=f.score.astype(float).replace(7.0, np.inf)), "a", "not finite"),
        (lambda f: f.assign(score=["x"] * len(f)), "a", "score must be numeric"),
        (lambda f: f.assign(annotator=f.annotator.where(f.index != 0)), "a", "no annotator.*index 0"),
        (
            lambda f: f.assign(condition=pd.Categorical(f.condition, categories=["a", "b", "c"])),
            "a",
            "Condition.*no scores: c",
        ),
        (lambda f: f.iloc[:0], "a", "empty"),
    ],
)
def test_bad_input_is_refused_with_a_reason(change, reference, message):
    with pytest.raises(ValueError, match=message):
        compare_conditions(change(small_frame()), reference=reference)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="Unknown adjustment 'bonferroni'"):
        compare_conditions(small_frame(), reference="a", adjustment="bonferroni")
    with pytest.raises(ValueError, match="level"):
        compare_conditions(small_frame(), reference="a", level=95)


def test_small_frame_runs():
    result = compare_conditions(small_frame(), reference="a")
    assert result.conditions == ("a", "b")
    assert math.isfinite(result.contrasts[0].estimate)
