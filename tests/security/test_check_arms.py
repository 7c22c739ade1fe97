"""Attention checks reveal nothing about arms: over many simulated annotators, nothing about how an image appears in
checks (matching or mismatched, side, place in the sequence, its pair, its partner image and that image's arm, the
side it has where its pair is rated) tells its arm.

The same analysis is run on the earlier rule (both images of a check from one arm) and must find the leak there,
so that passing it means something."""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import binomtest, chi2_contingency

from annotations import services
from annotations.models import Assignment
from annotations.sequence import image_names
from annotations.services import attention_checks
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db

ANNOTATORS, CHECKS, PAIRS, RATED = 200, 4, 6, 3
#: Below this a p-value counts as a leak found; above it, as none. Each fair draw passes a test with a chance of
#: 1 - 1e-6; the earlier rule's leak gives p-values below 1e-100.
ALPHA = 1e-6


@dataclass(frozen=True)
class Shown:
    """One image of one attention check, as its annotator sees it, and its arm (the label)."""

    annotator: int
    check: int
    matching: bool  # the image of the check's own prompt
    left: bool
    place: float  # position in the annotator's sequence, 0 first, 1 last
    pair: int
    partner_pair: int
    partner_ours: bool
    rated_side: str  # where the annotator rates this image's pair: "left", "right", or "" (not rated)
    ours: bool


def one_arm_per_check() -> tuple[str, str]:
    """The earlier rule: one arm drawn per check, for both of its images."""
    arm = attention_checks.secrets.choice(["baseline", "ours"])
    return arm, arm


def simulate() -> list[Shown]:
    """Annotators consent to an open study; each check's two images, by side as the rating page shows them."""
    study, annotators = make_open_study(
        slug="arms", prompts=PAIRS, annotators=ANNOTATORS, attention_checks=CHECKS, pairs_per_annotator=RATED
    )
    for annotator in annotators:
        services.give_consent(annotator=annotator)
    arm_of, pair_index = {}, {}
    for index, pair in enumerate(study.pairs.select_related("job").order_by("pk")):
        pair_index[pair.pk] = index
        arm_of[pair.job.baseline_image] = (index, False)
        arm_of[pair.job.ours_image] = (index, True)
    assignments = Assignment.objects.filter(annotator__study=study).select_related("pair__job", "check_pair__job")
    by_annotator: dict[int, list[Assignment]] = {}
    for assignment in assignments:
        by_annotator.setdefault(assignment.annotator_id, []).append(assignment)
    shown = []
    for annotator_id, sequence in by_annotator.items():
        sides = {}  # (pair, ours) -> the side it has in its rating
        for assignment in sequence:
            if not assignment.is_attention_check:
                for side, name in image_names(
                    ours_on_left=assignment.ours_on_left,
                    baseline=assignment.pair.job.baseline_image,
                    ours=assignment.pair.job.ours_image,
                ).items():
                    sides[arm_of[name]] = side
        for check in (assignment for assignment in sequence if assignment.is_attention_check):
            names = image_names(
                ours_on_left=check.ours_on_left,
                baseline=check.pair.job.baseline_image,
                ours=check.pair.job.ours_image,
                check_arm=check.check_arm,
                check_other_arm=check.check_other_arm,
                check_baseline=check.check_pair.job.baseline_image,
                check_ours=check.check_pair.job.ours_image,
            )
            for side, partner_side in (("left", "right"), ("right", "left")):
                (pair, ours), (partner_pair, partner_ours) = arm_of[names[side]], arm_of[names[partner_side]]
                shown.append(
                    Shown(
                        annotator=annotator_id,
                        check=check.pk,
                        matching=pair == pair_index[check.pair_id],
                        left=side == "left",
                        place=check.order / (len(sequence) - 1),
                        pair=pair,
                        partner_pair=partner_pair,
                        partner_ours=partner_ours,
                        rated_side=sides.get((pair, ours), ""),
                        ours=ours,
                    )
                )
    assert len(shown) == 2 * CHECKS * ANNOTATORS
    return shown


def features(rows: list[Shown]) -> np.ndarray:
    def one_hot(values, levels):
        return [[float(value == level) for level in levels[1:]] for value in values]

    return np.column_stack(
        [
            [row.matching for row in rows],
            [row.left for row in rows],
            [row.place for row in rows],
            [row.partner_ours for row in rows],
            one_hot([row.pair for row in rows], range(PAIRS)),
            one_hot([row.partner_pair for row in rows], range(PAIRS)),
            one_hot([row.rated_side for row in rows], ["", "left", "right"]),
        ]
    ).astype(float)


def fit_logistic(x: np.ndarray, y: np.ndarray, penalty: float = 1e-2) -> np.ndarray:
    """Weights (intercept first) of a logistic regression with a small ridge penalty, so that a perfect
    separation (the earlier rule) still has a finite fit."""
    x1 = np.column_stack([np.ones(len(x)), x])

    def loss(w):
        z = x1 @ w
        return np.sum(np.logaddexp(0, z) - y * z) + penalty * w[1:] @ w[1:]

    def gradient(w):
        g = x1.T @ (expit(x1 @ w) - y)
        g[1:] += 2 * penalty * w[1:]
        return g

    return minimize(loss, np.zeros(x1.shape[1]), jac=gradient, method="L-BFGS-B").x


def held_out_accuracy(rows: list[Shown]) -> tuple[int, int]:
    """Correct predictions of the arm on the images of the last third of the annotators, from a classifier
    trained on the first two thirds: (correct, tested)."""
    annotators = sorted({row.annotator for row in rows})
    cut = annotators[2 * len(annotators) // 3]
    train = [row for row in rows if row.annotator < cut]
    test = [row for row in rows if row.annotator >= cut]
    weights = fit_logistic(features(train), np.array([row.ours for row in train], dtype=float))
    predicted = expit(np.column_stack([np.ones(len(test)), features(test)]) @ weights) > 0.5
    return int(np.sum(predicted == np.array([row.ours for row in test]))), len(test)


def p_values(rows: list[Shown]) -> dict[str, float]:
    """Each test's p-value; a small one says the arm can be told."""
    ours = [row.ours for row in rows]
    by_check: dict[int, list[bool]] = {}
    for row in rows:
        by_check.setdefault(row.check, []).append(row.ours)
    same = sum(arms[0] == arms[1] for arms in by_check.values())
    correct, tested = held_out_accuracy(rows)
    found = {
        "ours half of the images": binomtest(sum(ours), len(rows)).pvalue,
        "a check's images of one arm half the time": binomtest(same, len(by_check)).pvalue,
        "classifier above chance": binomtest(correct, tested, alternative="greater").pvalue,
    }
    thirds = [min(int(row.place * 3), 2) for row in rows]
    for name, values in {
        "matching": [row.matching for row in rows],
        "side": [row.left for row in rows],
        "place": thirds,
        "pair": [row.pair for row in rows],
        "partner pair": [row.partner_pair for row in rows],
        "side in its rating": [row.rated_side for row in rows],
        "partner's arm": [row.partner_ours for row in rows],
    }.items():
        levels = sorted(set(values), key=str)
        table = [
            [sum(v == level and o == arm for v, o in zip(values, ours, strict=True)) for arm in (False, True)]
            for level in levels
        ]
        found[f"arm independent of {name}"] = chi2_contingency(table).pvalue
    return found


@pytest.mark.parametrize("rule", ["each arm drawn apart", "one arm per check (the earlier rule)"])
def test_a_classifier_learns_no_arm_from_attention_checks(rule, monkeypatch):
    if rule != "each arm drawn apart":
        monkeypatch.setattr(attention_checks, "draw_arms", one_arm_per_check)
    found = p_values(simulate())
    if rule == "each arm drawn apart":
        assert all(p > ALPHA for p in found.values()), found
    else:
        # the analysis is not blind: under the earlier rule it sees the arms linked
        assert found["a check's images of one arm half the time"] < ALPHA
        assert found["arm independent of partner's arm"] < ALPHA
        assert found["classifier above chance"] < ALPHA
