"""The pairwise pair tests' two-way cluster-robust covariance (analysis/stats/pairwise.py) against R, a numerical
sandwich, and simulation.

- R: ``reference/pairwise_robust.R`` fitted the three tie-free designs of ``reference/pairwise_designs.py`` as
  logistic regressions with ``glm`` and computed ``sandwich::vcovCL(fit, cluster = ~ annotator + item,
  type = "HC0", fix = TRUE)`` (and ``fix = FALSE``); its output, ``reference/pairwise_robust.csv``, is compared here
  to 1e-8 relative, so the suite needs no R. The design ``few`` has a negative eigenvalue before the fix.
- Davidson (ties), which glm cannot fit: the sandwich rebuilt from finite differences of a per-judgment
  log-likelihood written out here, summed within annotators, items and cells, and a numerical Hessian.
- Calibration: 4,000 simulated studies of 80 annotators × 40 prompts with no true difference and per-annotator and
  per-prompt deviations of SD 0.3 in each log strength. The robust test must reject within three Monte-Carlo SEs of
  5%; the inverse-information test on the same studies must reject far more often, to show the check can fail.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import pairwise, pairwise_power
from analysis.stats.pairwise import pairwise_data, pairwise_study
from analysis.stats.pairwise_power import pair_p_values, schedule, simulate_study
from tests.analysis.reference.pairwise_designs import load

REFERENCE = Path(__file__).resolve().parent / "reference" / "pairwise_robust.csv"
DESIGNS = ("crossed", "few", "unbalanced")
RTOL = 1e-8


@pytest.fixture(scope="module")
def r_values() -> pd.DataFrame:
    return pd.read_csv(REFERENCE, comment="#", keep_default_na=False, dtype={"value": float})


def r_matrix(r_values: pd.DataFrame, design: str, table: str, names: tuple[str, ...]) -> np.ndarray:
    rows = r_values[(r_values.design == design) & (r_values.table == table)].set_index(["row", "column"]).value
    return np.array([[rows[(a, b)] for b in names] for a in names])


def free_fit(design: str):
    data = pairwise_data(load(design))
    beta, X, information = pairwise.fit_full(data, 0)
    return data, beta, X, information


def assert_close(actual, expected, rtol=RTOL):
    """Relative to the largest reference value, so that entries near 0 do not demand more digits than exist."""
    expected = np.asarray(expected, dtype=float)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * np.abs(expected).max())


def test_the_reference_covers_every_design_and_a_clipped_eigenvalue(r_values):
    assert sorted(set(r_values.design)) == list(DESIGNS)
    counts = r_values[r_values.table == "count"].set_index(["design", "row"]).value
    for design in DESIGNS:
        data = pairwise_data(load(design))
        assert not data.has_ties
        assert counts[(design, "judgments")] == data.outcome.size
        assert (counts[(design, "annotators")], counts[(design, "items")]) == (data.n_annotators, data.n_items)
        assert counts[(design, "cells")] == pairwise.cluster_terms(data.annotator, data.item)[2][1]
    assert counts[("crossed", "cells")] < counts[("crossed", "judgments")]  # cells with several judgments
    few = r_matrix(r_values, "few", "unfixed", pairwise_data(load("few")).conditions[1:])
    assert np.linalg.eigvalsh(few).min() < -0.01


@pytest.mark.parametrize("design", DESIGNS)
def test_the_fit_and_its_covariances_match_glm_and_vcovcl(r_values, design):
    data, beta, X, information = free_fit(design)
    names = data.conditions[1:]
    coefficients = r_values[(r_values.design == design) & (r_values.table == "coefficient")].set_index("row").value
    assert_close(beta, [coefficients[name] for name in names])
    assert_close(np.linalg.inv(information), r_matrix(r_values, design, "model", names))
    assert_close(
        pairwise.fit_robust_covariance(data, beta, X, information), r_matrix(r_values, design, "robust", names)
    )
    scores = pairwise.judgment_scores(beta[None], X, data.pair, data.outcome)
    meat = pairwise.cluster_meat(scores, pairwise.cluster_terms(data.annotator, data.item))[0]
    bread = np.linalg.inv(information)
    assert_close(bread @ meat @ bread, r_matrix(r_values, design, "unfixed", names))


@pytest.mark.parametrize("design", DESIGNS)
def test_the_pair_tests_match_r(r_values, design):
    result = pairwise_study(load(design), seed=1, resamples=5)
    pairs = r_values[(r_values.design == design) & (r_values.table == "pair")].set_index(["row", "column"]).value
    model = r_matrix(r_values, design, "model", result.conditions[1:])
    model = np.pad(model, ((1, 0), (1, 0)))
    index = {name: k for k, name in enumerate(result.conditions)}
    for test in result.pair_tests:
        key = f"{test.first} - {test.second}"
        for field, column in (("difference", "difference"), ("se", "se"), ("z", "statistic"), ("df", "df")):
            assert getattr(test, field) == pytest.approx(pairs[(key, column)], rel=RTOL), (key, field)
        assert test.p == pytest.approx(pairs[(key, "p")], rel=1e-7), key
        i, j = index[test.first], index[test.second]
        assert test.model_se == pytest.approx(math.sqrt(model[i, i] + model[j, j] - 2 * model[i, j]), rel=RTOL)
    robust = r_matrix(r_values, design, "robust", result.conditions[1:])
    for strength, variance in zip(result.strengths[1:], np.diag(robust), strict=True):
        assert strength.se == pytest.approx(math.sqrt(variance), rel=RTOL)
    assert "cluster-robust" in result.p_method and "(A − 1)(I − 1)/(A + I − 2) df" in result.p_method


def judgment_loglik(theta: np.ndarray, data: pairwise.PairwiseData) -> np.ndarray:
    """Each judgment's Davidson log-likelihood written out (strengths with the first at 0, then log ν)."""
    m = len(data.conditions)
    s = np.concatenate([[0.0], theta[: m - 1]])
    first, second = s[data.pair_first[data.pair]], s[data.pair_second[data.pair]]
    tie = theta[m - 1] + (first + second) / 2
    chosen = np.choose(data.outcome, [first, second, tie])
    return chosen - np.logaddexp(np.logaddexp(first, second), tie)


def numerical_sandwich(data: pairwise.PairwiseData, theta: np.ndarray) -> np.ndarray:
    """H⁻¹ (Σ_c sign_c G_c / (G_c − 1) Σ_g s_g s_g') H⁻¹ from central differences: s_g of the judgments'
    log-likelihoods summed within cluster g (step 1e-5), H of their total (step 1e-4, where rounding stays small)."""
    P, h = theta.size, 1e-5
    step = np.eye(P) * h
    scores = np.stack(
        [(judgment_loglik(theta + e, data) - judgment_loglik(theta - e, data)) / (2 * h) for e in step], axis=1
    )
    cells = pd.factorize(pd.Series(list(zip(data.annotator, data.item, strict=True))))[0]
    meat = np.zeros((P, P))
    for codes, sign in ((data.annotator, 1), (data.item, 1), (cells, -1)):
        sums = pd.DataFrame(scores).groupby(codes).sum().to_numpy()
        G = sums.shape[0]
        meat += sign * G / (G - 1) * sums.T @ sums
    h = 1e-4
    step = np.eye(P) * h

    def total(t):
        return judgment_loglik(t, data).sum()

    hessian = np.array(
        [
            [
                (total(theta + a + b) - total(theta + a - b) - total(theta - a + b) + total(theta - a - b))
                / (4 * h * h)
                for b in step
            ]
            for a in step
        ]
    )
    bread = np.linalg.inv(-hessian)
    covariance = bread @ meat @ bread
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    return (vectors * np.clip(values, 0, None)) @ vectors.T


@pytest.mark.parametrize(("annotators", "prompts"), [(15, 8), (4, 3)])
def test_with_ties_the_sandwich_matches_finite_differences(annotators, prompts):
    frame = simulate_study(
        strengths={"a": 0.0, "b": 0.4, "c": -0.2, "d": 0.3},
        tie_rate=0.25,
        annotator_sd=0.4,
        item_sd=0.4,
        pairs_per_annotator=16,
        annotators=annotators,
        prompts=prompts,
        seed=annotators,
    )
    data = pairwise_data(frame)
    assert data.has_ties
    theta, X, information = pairwise.fit_full(data, 0)
    robust = pairwise.fit_robust_covariance(data, theta, X, information)
    np.testing.assert_allclose(robust, numerical_sandwich(data, theta), rtol=0, atol=1e-6 * np.abs(robust).max())
    result = pairwise_study(frame, seed=1, resamples=5)
    test = next(t for t in result.pair_tests if (t.first, t.second) == ("b", "c"))
    assert test.se == pytest.approx(math.sqrt(robust[0, 0] + robust[1, 1] - 2 * robust[0, 1]), rel=1e-9)
    assert result.tie_parameter is not None


def test_a_single_annotator_or_item_leaves_the_p_undefined():
    frame = load("unbalanced")
    for column in ("annotator", "item"):
        result = pairwise_study(frame.assign(**{column: "one"}), seed=1, resamples=5)
        for test in result.pair_tests:
            assert np.isnan(test.p) and np.isnan(test.se) and test.p_adjusted is None and test.df == 0
            assert test.model_se > 0


def rejection_rates(*, annotators, prompts, simulations, seed, sd=0.3):
    """(robust, model-based) rejection rates at α = 0.05 of the pair (a, b) of three equal conditions."""
    K, pairs_per_annotator = 3, 20
    plan = schedule(annotators=annotators, prompts=prompts, pairs_per_annotator=pairs_per_annotator, conditions=K)
    outcome = pairwise_power._simulate_outcomes(
        np.random.default_rng(seed),
        simulations,
        plan,
        strengths=np.zeros(K),
        nu=pairwise_power.tie_parameter(0.2),
        annotator_sd=sd,
        item_sd=sd,
        annotators=annotators,
        prompts=prompts,
    )
    robust, fitted = pair_p_values(outcome, plan, K)
    counts = pairwise_power._counts(outcome, plan.pair, 3)
    ties = counts[:, :, 2].sum(axis=1) > 0
    model = np.full(simulations, np.nan)
    for with_ties in (False, True):
        rows = np.flatnonzero(ties == with_ties)
        X = pairwise_power._design_for(K, with_ties)
        y = counts[rows] if with_ties else counts[rows, :, :2]
        beta, converged, information = pairwise.fit_newton(y, X, np.zeros((rows.size, X.shape[2])))
        z = beta[:, 0] / np.sqrt(np.linalg.inv(information)[:, 0, 0])
        model[rows[converged]] = 2 * stats.norm.sf(np.abs(z[converged]))
    assert fitted.all() and np.isfinite(model).all()
    return float((robust[:, 0] < 0.05).mean()), float((model < 0.05).mean())


def test_with_heterogeneity_the_robust_test_holds_alpha_and_the_model_based_one_does_not():
    simulations = 4000
    robust, model = rejection_rates(annotators=80, prompts=40, simulations=simulations, seed=1)
    mc_se = math.sqrt(0.05 * 0.95 / simulations)
    assert abs(robust - 0.05) < 3 * mc_se, robust
    assert model > 0.05 + 10 * mc_se, model  # about 0.16: judgments of one annotator or prompt are not independent
