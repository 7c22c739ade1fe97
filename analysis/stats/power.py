"""Power of a fully crossed design (every annotator rates every item) from a pilot's variance components.

For the mean difference, Var = σ²_a/A + σ²_i/I + σ²/(A·I); the test is the crossed model's t test with
Satterthwaite df from the expected mean squares E[MS_A] = σ² + I·σ²_a, E[MS_I] = σ² + A·σ²_i, E[MS_E] = σ²;
power from the noncentral t distribution (two-sided). As A grows the variance falls only to σ²_i/I: with too
few items no number of annotators reaches the target, and the plan says so (and likewise for annotators).
"""

import math
from dataclasses import dataclass

from scipy import stats as sps


@dataclass(frozen=True)
class Components:
    annotator: float
    item: float
    residual: float


@dataclass(frozen=True)
class DesignPower:
    annotators: int
    items: int
    judgments: int
    se: float
    df: float
    power: float


@dataclass(frozen=True)
class PowerPlan:
    effect: float
    alpha: float
    target: float
    components: Components
    design: DesignPower  # the design asked about
    smallest: DesignPower | None  # fewest judgments reaching the target within the search limits
    power_with_unlimited_annotators: float  # at the design's item count
    power_with_unlimited_items: float  # at the design's annotator count
    cap: str  # plain statement of what limits the power


def _satterthwaite_df(c: Components, annotators: int, items: int) -> float:
    ms_a = c.residual + items * c.annotator
    ms_i = c.residual + annotators * c.item
    ms_e = c.residual
    numerator = (ms_a + ms_i - ms_e) ** 2
    denominator = ms_a**2 / (annotators - 1) + ms_i**2 / (items - 1) + ms_e**2 / ((annotators - 1) * (items - 1))
    return numerator / denominator if denominator > 0 else math.inf


def _power(effect: float, se: float, df: float, alpha: float) -> float:
    if se <= 0:
        return 1.0
    critical = sps.t.isf(alpha / 2, df)
    noncentrality = effect / se
    return float(sps.nct.sf(critical, df, noncentrality) + sps.nct.cdf(-critical, df, noncentrality))


def design_power(
    *, effect: float, components: Components, annotators: int, items: int, alpha: float = 0.05
) -> DesignPower:
    if annotators < 2 or items < 2:
        raise ValueError("A design needs at least two annotators and two items.")
    variance = components.annotator / annotators + components.item / items + components.residual / (annotators * items)
    se = math.sqrt(variance)
    df = _satterthwaite_df(components, annotators, items)
    return DesignPower(annotators, items, annotators * items, se, df, _power(effect, se, df, alpha))


def _limit_power(effect: float, variance: float, df: float, alpha: float) -> float:
    return _power(effect, math.sqrt(variance), df, alpha) if variance > 0 else 1.0


def plan(
    *,
    effect: float,
    components: Components,
    annotators: int,
    items: int,
    alpha: float = 0.05,
    target: float = 0.8,
    max_annotators: int = 1000,
    max_items: int = 1000,
) -> PowerPlan:
    """The design's power, the smallest design reaching ``target`` (fewest judgments, then fewest annotators),
    and a plain statement of whether items or annotators cap the power."""
    design = design_power(effect=effect, components=components, annotators=annotators, items=items, alpha=alpha)
    best: DesignPower | None = None
    for a in range(2, max_annotators + 1):
        if best is not None and a * 2 > best.judgments:
            break
        if (
            design_power(effect=effect, components=components, annotators=a, items=max_items, alpha=alpha).power
            < target
        ):
            continue
        low, high = 2, max_items
        while low < high:
            middle = (low + high) // 2
            if (
                design_power(effect=effect, components=components, annotators=a, items=middle, alpha=alpha).power
                >= target
            ):
                high = middle
            else:
                low = middle + 1
        candidate = design_power(effect=effect, components=components, annotators=a, items=low, alpha=alpha)
        if best is None or candidate.judgments < best.judgments:
            best = candidate
    unlimited_annotators = _limit_power(effect, components.item / items, items - 1, alpha)
    unlimited_items = _limit_power(effect, components.annotator / annotators, annotators - 1, alpha)
    if design.power >= target:
        cap = f"The design reaches {target:.0%} power ({design.power:.0%})."
    elif unlimited_annotators < target:
        cap = (
            f"Items, not annotators, cap the power: with {items} items no number of annotators reaches "
            f"{target:.0%} (at most {unlimited_annotators:.0%}); add items."
        )
    elif unlimited_items < target:
        cap = (
            f"Annotators, not items, cap the power: with {annotators} annotators no number of items reaches "
            f"{target:.0%} (at most {unlimited_items:.0%}); add annotators."
        )
    else:
        variance = max(design.se**2, 1e-300)
        shares = {
            "items": components.item / items / variance,
            "annotators": components.annotator / annotators / variance,
        }
        which = max(shares, key=shares.get)
        cap = (
            f"Below {target:.0%} ({design.power:.0%}); {which} contribute most of the variance of the estimate "
            f"({shares[which]:.0%}), so adding {which} helps most."
        )
    return PowerPlan(effect, alpha, target, components, design, best, unlimited_annotators, unlimited_items, cap)
