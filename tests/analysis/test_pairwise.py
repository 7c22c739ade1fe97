"""analysis.stats.pairwise against independent computations: a direct scipy fit of the written-out Davidson
likelihood, Hunter's (2004) MM algorithm for plain Bradley–Terry, hand-made win matrices and cycles, and
Krippendorff's (2011) textbook nominal alpha."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from analysis.stats import pairwise
from analysis.stats.pairwise import nominal_alpha, pairwise_by_criterion, pairwise_data, pairwise_study

ROOT = Path(__file__).resolve().parents[2]
TRUE = np.array([0.0, 0.4, -0.3, 0.9, 0.2])
NAMES = np.array(["a", "b", "c", "d", "e"])


def simulate(n: int, seed: int, nu: float = 0.6, strengths: np.ndarray = TRUE) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    m = strengths.size
    left = rng.integers(0, m, n)
    right = (left + rng.integers(1, m, n)) % m
    a, b = np.exp(strengths[left]), np.exp(strengths[right])
    t = nu * np.sqrt(a * b)
    u = rng.random(n) * (a + b + t)
    choice = np.where(u < a, "left", np.where(u < a + b, "right", "tie"))
    return pd.DataFrame(
        {
            "annotator": rng.integers(0, 30, n),
            "item": rng.integers(0, 80, n),
            "left": NAMES[left],
            "right": NAMES[right],
            "choice": choice,
        }
    )


def direct_davidson(frame: pd.DataFrame, ties: bool) -> np.ndarray:
    """Per-judgment negative log-likelihood minimised by scipy; returns strengths (a at 0) then log nu."""
    codes = {name: i for i, name in enumerate(sorted(set(frame["left"]) | set(frame["right"])))}
    left = frame["left"].map(codes).to_numpy()
    right = frame["right"].map(codes).to_numpy()
    choice = frame["choice"].to_numpy()
    m = len(codes)

    def nll(theta):
        s = np.concatenate([[0.0], theta[: m - 1]])
        log_nu = theta[m - 1] if ties else -np.inf
        sl, sr = s[left], s[right]
        tie = log_nu + (sl + sr) / 2
        log_denominator = np.logaddexp(np.logaddexp(sl, sr), tie)
        chosen = np.where(choice == "left", sl, np.where(choice == "right", sr, tie))
        return -(chosen - log_denominator).sum()

    start = np.zeros(m if ties else m - 1)
    fit = optimize.minimize(nll, start, method="BFGS", options={"gtol": 1e-8})
    strengths = np.concatenate([[0.0], fit.x[: m - 1]])
    return np.concatenate([strengths, fit.x[m - 1 :]])


def hunter_mm(frame: pd.DataFrame) -> np.ndarray:
    """Plain Bradley–Terry by Hunter's (2004) MM iteration: γ_i ← W_i / Σ_j n_ij / (γ_i + γ_j)."""
    names = sorted(set(frame["left"]) | set(frame["right"]))
    index = {name: i for i, name in enumerate(names)}
    m = len(names)
    wins, n = np.zeros(m), np.zeros((m, m))
    for left, right, choice in frame[["left", "right", "choice"]].itertuples(index=False):
        i, j = index[left], index[right]
        wins[i if choice == "left" else j] += 1
        n[i, j] += 1
        n[j, i] += 1
    gamma = np.ones(m)
    for _ in range(5000):
        gamma = wins / (n / (gamma[:, None] + gamma[None, :])).sum(axis=1)
        gamma /= gamma[0]
    return np.log(gamma)


def estimates(result) -> np.ndarray:
    return np.array([s.log_strength for s in result.strengths])


def test_davidson_fit_matches_a_direct_scipy_fit_and_recovers_the_truth():
    frame = simulate(20_000, seed=3)
    result = pairwise_study(frame, seed=1, resamples=50)
    direct = direct_davidson(frame, ties=True)
    assert result.model == "Davidson"
    np.testing.assert_allclose(estimates(result), direct[:5], atol=1e-5)
    assert result.tie_parameter == pytest.approx(np.exp(direct[5]), abs=1e-5)
    se = np.array([s.se for s in result.strengths])
    assert (np.abs(estimates(result) - TRUE)[1:] < 4 * se[1:]).all()
    assert abs(result.tie_parameter - 0.6) < 0.05
    assert result.leaderboard == ("d", "b", "e", "a", "c")


def test_plain_bradley_terry_without_ties_matches_hunter_mm_and_scipy():
    frame = simulate(3_000, seed=5, nu=0.0)
    assert (frame["choice"] != "tie").all()
    result = pairwise_study(frame, seed=1, resamples=20)
    assert result.model == "Bradley–Terry" and result.tie_parameter is None
    np.testing.assert_allclose(estimates(result), hunter_mm(frame), atol=1e-6)
    np.testing.assert_allclose(estimates(result), direct_davidson(frame, ties=False), atol=1e-5)


def test_model_based_se_matches_a_numerical_hessian():
    frame = simulate(4_000, seed=7)
    data = pairwise_data(frame)
    beta, X, information = pairwise.fit_full(data, 0)
    y = pairwise._counts(data)[None]

    def loglik(b):
        return pairwise._derivatives(b[None], y, X)[0][0]

    h, P = 1e-4, beta.size
    hessian = np.empty((P, P))
    for i in range(P):
        for j in range(P):
            e_i, e_j = np.eye(P)[i] * h, np.eye(P)[j] * h
            hessian[i, j] = (
                loglik(beta + e_i + e_j)
                - loglik(beta + e_i - e_j)
                - loglik(beta - e_i + e_j)
                + loglik(beta - e_i - e_j)
            ) / (4 * h * h)
    np.testing.assert_allclose(information, -hessian, rtol=1e-4)
    result = pairwise_study(frame, seed=1, resamples=10)
    covariance = np.linalg.inv(-hessian)
    test = next(t for t in result.pair_tests if (t.first, t.second) == ("b", "d"))
    se = np.sqrt(covariance[0, 0] + covariance[2, 2] - 2 * covariance[0, 2])
    assert test.model_se == pytest.approx(se, rel=1e-4)
    assert result.strengths[1].model_se == pytest.approx(np.sqrt(covariance[0, 0]), rel=1e-4)
    # the reported p is the cluster-robust one (tests/analysis/test_pairwise_robust.py), not the model-based one
    assert test.p == pytest.approx(2 * stats.t.sf(abs(test.difference / test.se), test.df), rel=1e-9)
    assert test.df == pytest.approx(29 * 79 / 108)  # (A − 1)(I − 1) / (A + I − 2), 30 annotators and 80 items


def hand_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f"r{k % 3}", f"p{k % 4}", left, right, choice) for k, (left, right, choice) in enumerate(rows)],
        columns=["annotator", "item", "left", "right", "choice"],
    )


def test_win_rate_matrix_counts_ties_as_half_and_orientation():
    rows = [("x", "y", "left")] * 3 + [("y", "x", "left")] + [("x", "y", "tie")] * 2 + [("y", "z", "right")] * 2
    rows += [("z", "y", "right"), ("x", "z", "right"), ("z", "x", "right")]
    rate, n = pairwise.win_rates(pairwise_data(hand_frame(rows)))
    # x vs y: 3 + 1/2 + 1/2 wins for x of 6, so 4/6; y vs z: z won 2 of 3; x vs z: 1 of 2.
    assert rate[0, 1] == pytest.approx(4 / 6) and rate[1, 0] == pytest.approx(2 / 6)
    assert rate[2, 1] == pytest.approx(2 / 3) and rate[0, 2] == pytest.approx(0.5)
    assert n[0, 1] == 6 and n[1, 2] == 3 and np.isnan(rate[0, 0])


def test_intransitive_triads_on_hand_made_cycles():
    rock_paper_scissors = hand_frame([("r", "s", "left"), ("s", "p", "left"), ("p", "r", "left")] * 2)
    assert pairwise.intransitive_triads(pairwise.win_rates(pairwise_data(rock_paper_scissors))[0]) == 1
    order = hand_frame([("a", "b", "left"), ("b", "c", "left"), ("a", "c", "left")])
    assert pairwise.intransitive_triads(pairwise.win_rates(pairwise_data(order))[0]) == 0
    # Two disjoint-edged cycles on four conditions: a>b>c>a and a>b>d>a; c vs d is a draw (no edge).
    rate = np.full((4, 4), np.nan)
    for winner, loser in [(0, 1), (1, 2), (2, 0), (1, 3), (3, 0)]:
        rate[winner, loser], rate[loser, winner] = 0.8, 0.2
    rate[2, 3] = rate[3, 2] = 0.5
    assert pairwise.intransitive_triads(rate) == 2
    # A tournament of five where each beats the next two: C(5,3) − Σ C(2,2) = 10 − 5 = 5 cyclic triads.
    tournament = np.full((5, 5), np.nan)
    for i in range(5):
        for step in (1, 2):
            tournament[i, (i + step) % 5], tournament[(i + step) % 5, i] = 1.0, 0.0
    assert pairwise.intransitive_triads(tournament) == 5


def test_nominal_alpha_matches_krippendorffs_textbook_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders, 12 units, missing values; α = 0.743.
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units, values = zip(*[(u, v) for row in data for u, v in enumerate(row) if v is not None], strict=True)
    alpha, pairable = nominal_alpha(np.array(units), np.array(values))
    assert alpha == pytest.approx(0.743, abs=5e-4)
    assert pairable == 11


def test_study_alpha_uses_item_and_unordered_pair_as_units():
    # Item p1: three annotators agree x > y (one saw it mirrored); item p2: they disagree. Two units, six values.
    frame = pd.DataFrame(
        [
            ("r1", "p1", "x", "y", "left"),
            ("r2", "p1", "y", "x", "right"),
            ("r3", "p1", "x", "y", "left"),
            ("r1", "p2", "x", "y", "left"),
            ("r2", "p2", "x", "y", "right"),
            ("r3", "p2", "x", "y", "tie"),
        ],
        columns=["annotator", "item", "left", "right", "choice"],
    )
    data = pairwise_data(frame)
    expected, units = nominal_alpha(np.array([1, 1, 1, 2, 2, 2]), np.array(["x", "x", "x", "x", "y", "tie"]))
    assert pairwise._alpha(data) == (expected, units) and units == 2


def test_bootstrap_is_deterministic_under_a_seed():
    frame = simulate(2_000, seed=11)
    first = pairwise_study(frame, seed=4, resamples=200)
    assert first == pairwise_study(frame, seed=4, resamples=200)
    other = pairwise_study(frame, seed=5, resamples=200)
    assert first.strengths[1].ci != other.strengths[1].ci
    assert first.valid_resamples == 200
    assert first.strengths[0].ci == (0.0, 0.0)
    for strength in first.strengths[1:]:
        assert strength.ci[0] < strength.log_strength < strength.ci[1]


def test_bootstrap_resamples_annotators_and_items():
    frame = simulate(500, seed=13)
    data = pairwise_data(frame)
    weights = pairwise.resample_weights(data, np.random.default_rng(0), 50)
    rng = np.random.default_rng(0)
    annotator_draws = pairwise._draw_counts(rng, 50, data.n_annotators)
    item_draws = pairwise._draw_counts(rng, 50, data.n_items)
    assert (annotator_draws.sum(axis=1) == data.n_annotators).all() and (item_draws.sum(axis=1) == data.n_items).all()
    np.testing.assert_array_equal(weights, annotator_draws[:, data.annotator] * item_draws[:, data.item])
    assert annotator_draws.std(axis=1).min() > 0 and item_draws.std(axis=1).min() > 0
    # A design with a single annotator and a single item cannot vary: every resample is the full data.
    single = frame.assign(annotator="r", item="p")
    result = pairwise_study(single, seed=2, resamples=30)
    for strength in result.strengths:
        assert strength.ci == pytest.approx((strength.log_strength, strength.log_strength), abs=1e-7)


@pytest.mark.parametrize("split_by", ["annotator", "item"])
def test_disagreement_between_annotators_or_items_widens_the_interval(split_by):
    # Half the annotators (or half the items) always prefer x, the other half y: a resample of that factor must
    # show the spread, while the same judgments with that factor constant give a narrower interval.
    rows = [
        (f"r{a}", f"p{i}", "x", "y", "left" if (a if split_by == "annotator" else i) < 10 else "right")
        for a in range(20)
        for i in range(20)
    ]
    frame = pd.DataFrame(rows, columns=["annotator", "item", "left", "right", "choice"])
    result = pairwise_study(frame, seed=1, resamples=300)
    low, high = result.strengths[1].ci
    assert result.strengths[1].log_strength == pytest.approx(0.0, abs=1e-9)
    assert high - low > 1.0
    other = "item" if split_by == "annotator" else "annotator"
    collapsed = pairwise_study(frame.assign(**{other: "one"}), seed=1, resamples=300).strengths[1].ci
    assert collapsed[1] - collapsed[0] > 1.0
    alone = pairwise_study(frame.assign(**{split_by: "one"}), seed=1, resamples=300).strengths[1].ci
    assert alone[1] - alone[0] < (high - low) / 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["choice"]), "choice"),
        (lambda f: f.drop(columns=["annotator", "item"]), "annotator, item"),
        (lambda f: f.assign(choice=f["choice"].where(f.index != 3, "both")), "'both'"),
        (lambda f: f.assign(right=f["right"].where(f.index != 2, f["left"])), "same condition"),
        (lambda f: f.assign(left=f["left"].where(f.index != 1, None)), "column left"),
        (lambda f: f.iloc[0:0], "empty"),
    ],
)
def test_bad_input_raises_naming_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        pairwise_study(change(simulate(200, seed=1)), seed=1, resamples=5)


def test_a_condition_that_never_loses_is_refused():
    frame = hand_frame([("a", "b", "left"), ("a", "c", "left"), ("b", "c", "left"), ("c", "b", "left")])
    with pytest.raises(ValueError, match="not strongly connected"):
        pairwise_study(frame, seed=1, resamples=5)
    with pytest.raises(ValueError, match="reference"):
        pairwise_study(simulate(200, seed=1), seed=1, resamples=5, reference="zz")


def test_reference_condition_is_fixed_at_zero():
    frame = simulate(3_000, seed=17)
    by_a = estimates(pairwise_study(frame, seed=1, resamples=10))
    by_d = pairwise_study(frame, seed=1, resamples=10, reference="d")
    assert by_d.reference == "d" and by_d.strengths[3].log_strength == 0.0
    np.testing.assert_allclose(estimates(by_d), by_a - by_a[3], atol=1e-8)


def test_each_criterion_is_fitted_on_its_own_judgments():
    first, second = simulate(1_500, seed=19), simulate(1_500, seed=23, strengths=-TRUE)
    frame = pd.concat([first.assign(criterion="quality"), second.assign(criterion="alignment")], ignore_index=True)
    results = pairwise_by_criterion(frame, seed=3, resamples=20)
    assert list(results) == ["alignment", "quality"]
    assert results["quality"] == pairwise_study(first, seed=3, resamples=20)
    assert results["alignment"].leaderboard[0] == "c"
    with pytest.raises(ValueError, match="criterion"):
        pairwise_by_criterion(first, seed=3, resamples=20)


def test_module_imports_without_django():
    script = (
        "import json, sys; import analysis.stats.pairwise; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'evalsite'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_resamples_without_a_maximum_are_left_out():
    # 40 judgments of 5 conditions: some resamples leave a condition unbeaten, so its strength has no MLE.
    result = pairwise_study(simulate(40, seed=40), seed=1, resamples=300)
    assert 0 < result.valid_resamples < result.resamples
    assert all(np.isfinite(bound) for strength in result.strengths for bound in strength.ci)
