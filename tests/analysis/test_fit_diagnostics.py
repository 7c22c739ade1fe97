"""What the report says about the mixed model's fit: converged or not, singular or not, and the REML deviance
(lme4's REMLcrit), in the JSON, in the notes of the tables and on the results page."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import mixed
from analysis.stats.report import adjust_reports, study_report
from analysis.tables import summaries_markdown
from tests.analysis.lme4.designs import load
from tests.analysis.test_lme4_reference import TIGHT


def tidy_design(name: str) -> pd.DataFrame:
    """A stored reference design as tidy ratings: scores on 1–10 whose difference is the design's d."""
    frame = load(name)
    baseline = np.where(frame.d >= 0, 1, 10)
    ours = baseline + frame.d
    left = frame.x > 0
    both = pd.concat(
        [
            pd.DataFrame(
                {
                    "annotator": frame.annotator,
                    "item": frame.item,
                    "condition": "baseline",
                    "score": baseline,
                    "position": np.where(left, "right", "left"),
                    "seconds": 5.0,
                }
            ),
            pd.DataFrame(
                {
                    "annotator": frame.annotator,
                    "item": frame.item,
                    "condition": "ours",
                    "score": ours,
                    "position": np.where(left, "left", "right"),
                    "seconds": 5.0,
                }
            ),
        ]
    )
    both["annotator"] = "a" + both.annotator.astype(str).str.zfill(4)
    both["item"] = "item " + both.item.astype(str).str.zfill(4)
    return both


def report_of(name: str):
    return adjust_reports([study_report(tidy_design(name), study=name, resamples=50)])[0]


def test_a_singular_fit_is_said_in_words():
    report = report_of("no-annotator-variance")
    model = report.as_dict()["mixed_model"]
    reference = TIGHT[(TIGHT.design == "no-annotator-variance") & (TIGHT.model == "intercept")].iloc[0]
    assert model["singular"] is True and model["converged"] is True
    assert model["model"] == ("random intercept for items only (annotator variance estimated at 0: a singular fit)")
    assert model["deviance"] == pytest.approx(reference.deviance, abs=1e-6)
    assert model["effect"]["p"] == pytest.approx(reference.p, rel=1e-4)
    assert (
        "no-annotator-variance: random intercept for items only (annotator variance estimated at 0: a singular "
        "fit)." in summaries_markdown([report])
    )


def test_an_interior_fit_is_neither_singular_nor_noted():
    report = report_of("dropouts")
    model = report.as_dict()["mixed_model"]
    assert model["singular"] is False and model["converged"] is True and not model["simplified"]
    assert "deviance evaluations" in model["convergence"]
    assert "dropouts:" not in summaries_markdown([report])


def test_a_search_that_runs_out_is_reported_as_not_converged(monkeypatch):
    monkeypatch.setattr(mixed, "MAX_EVALUATIONS", 4)
    report = report_of("dropouts")
    model = report.as_dict()["mixed_model"]
    assert model["converged"] is False
    assert "BOBYQA stopped after 4 evaluations" in model["convergence"]
    assert "dropouts: the mixed model did not converge (BOBYQA stopped" in summaries_markdown([report])
    assert "its p-value is not to be trusted" in summaries_markdown([report])
