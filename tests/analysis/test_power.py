"""Power planning: the analytic power against a Monte Carlo of the crossed model itself, the smallest design,
and the plain statement of what caps the power."""

import numpy as np
import pytest

from analysis.stats.mixed import CrossedGroups, effect_of, fit_crossed
from analysis.stats.power import Components, design_power, plan

COMPONENTS = Components(annotator=0.16, item=0.36, residual=2.25)


def test_analytic_power_matches_simulation():
    """300 simulated 8 × 10 studies analysed with the crossed model; the Monte Carlo SE of a power near 0.5 is
    about 0.03, so ±0.09 is a 3-SE band."""
    A, I, effect = 8, 10, 0.45
    analytic = design_power(effect=effect, components=COMPONENTS, annotators=A, items=I).power
    rng = np.random.default_rng(2)
    a, i = np.repeat(np.arange(A), I), np.tile(np.arange(I), A)
    groups = CrossedGroups(annotator=a, item=i)
    rejections = 0
    sims = 300
    for _ in range(sims):
        y = (
            effect
            + rng.normal(0, np.sqrt(COMPONENTS.annotator), A)[a]
            + rng.normal(0, np.sqrt(COMPONENTS.item), I)[i]
            + rng.normal(0, np.sqrt(COMPONENTS.residual), a.size)
        )
        rejections += effect_of(fit_crossed(y=y, annotator=a, item=i, groups=groups)).p < 0.05
    assert 0.25 < analytic < 0.75
    assert rejections / sims == pytest.approx(analytic, abs=0.09)


def test_smallest_design_reaches_the_target_and_is_minimal():
    result = plan(effect=0.3, components=COMPONENTS, annotators=20, items=30, max_annotators=300, max_items=300)
    best = result.smallest
    assert best is not None and best.power >= 0.8
    smaller = design_power(effect=0.3, components=COMPONENTS, annotators=best.annotators, items=best.items - 1)
    assert smaller.power < 0.8
    for a in range(2, 300):
        for i in range(2, best.judgments // a + 1):
            if a * i < best.judgments:
                assert design_power(effect=0.3, components=COMPONENTS, annotators=a, items=i).power < 0.8
            break  # monotone in items: the largest i with a·i < best is enough to check per a


def test_items_cap_the_power_and_it_is_said_plainly():
    items_heavy = Components(annotator=0.01, item=1.0, residual=1.0)
    result = plan(effect=0.3, components=items_heavy, annotators=40, items=10)
    assert result.power_with_unlimited_annotators < 0.8
    assert result.cap.startswith("Items, not annotators, cap the power: with 10 items")
    annotators_heavy = Components(annotator=1.0, item=0.01, residual=1.0)
    result = plan(effect=0.3, components=annotators_heavy, annotators=10, items=40)
    assert result.cap.startswith("Annotators, not items, cap the power")


def test_larger_designs_have_more_power():
    small = design_power(effect=0.3, components=COMPONENTS, annotators=10, items=10).power
    more_items = design_power(effect=0.3, components=COMPONENTS, annotators=10, items=40).power
    more_annotators = design_power(effect=0.3, components=COMPONENTS, annotators=40, items=10).power
    assert small < more_annotators < more_items  # items carry the larger variance here
