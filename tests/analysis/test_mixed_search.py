"""The REML search against an independent one, on simulated incomplete designs it was not shaped on.

60 designs: 10–300 annotators × 10–300 prompts, 5–100% of cells, some annotators with a single rating, variance
components from 0 to large, scores on the 1–10 scale or continuous. The independent search evaluates the same
profiled deviance (checked against lme4's in test_lme4_reference) on a grid over θ and polishes the best grid
points with Nelder–Mead on |θ| (unconstrained: the deviance is even in each θ). The fit's deviance must never be
more than 1e-6 above the best found.
"""

import numpy as np
import pytest
from scipy import optimize

from analysis.stats.mixed import fit_crossed, profiled_deviance

DESIGNS = 60
GRID = np.array([0.0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.2, 2.0, 3.5, 6.0])


def incomplete_design(seed: int):
    rng = np.random.default_rng(seed)
    annotators, items = (int(v) for v in rng.integers(10, 301, 2))
    fill = rng.uniform(0.05, 1.0)
    singles = rng.uniform(0.0, 0.3)  # share of annotators who rate one prompt and leave
    a, i = [], []
    for k in range(annotators):
        m = 1 if rng.random() < singles else max(1, rng.binomial(items, fill))
        a.append(np.full(m, k))
        i.append(rng.choice(items, m, replace=False))
    a, i = np.concatenate(a), np.concatenate(i)
    i = np.unique(i, return_inverse=True)[1]  # prompts nobody rated are not in the data
    sd_a, sd_i = rng.choice([0.0, 0.1, 0.3, 1.0, 3.0], 2)
    y = 0.3 + rng.normal(0, sd_a, annotators)[a] + rng.normal(0, sd_i, i.max() + 1)[i] + rng.normal(0, 1.5, a.size)
    if rng.random() < 0.5:
        y = np.clip(np.rint(y), -9, 9)
    return a, i, y


def independent_minimum(deviance) -> float:
    values = np.array([[deviance((p, q)) for q in GRID] for p in GRID])
    best = float(values.min())
    for flat in np.argsort(values, axis=None)[:2]:
        p, q = np.unravel_index(flat, values.shape)
        result = optimize.minimize(
            deviance,
            [GRID[p] + 0.01, GRID[q] + 0.01],
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-10, "maxfev": 2000},
        )
        best = min(best, float(result.fun))
    return best


@pytest.mark.parametrize("seed", range(DESIGNS))
def test_search_finds_the_reml_optimum(seed):
    a, i, y = incomplete_design(seed)
    fit = fit_crossed(y=y, annotator=a, item=i)
    best = independent_minimum(profiled_deviance(y=y, annotator=a, item=i))
    assert fit.deviance <= best + 1e-6, (fit.deviance - best, fit.model, fit.variance)
    assert fit.converged, fit.convergence
