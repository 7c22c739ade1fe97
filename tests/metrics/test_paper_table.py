"""Metrics in export_results' paper table and on the staff results page, beside the human-study difference."""

import pytest

from metrics.models import MetricResult, MetricsRun, ReferenceSet
from tests.analysis.test_exports import export, rate_all
from tests.analysis.test_pages import staff_client
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated_with_metrics():
    study, annotators = make_open_study(slug="sd21", prompts=3, annotators=2, width=64, height=64)
    rate_all(study, annotators)
    reference = ReferenceSet.objects.create(
        name="laion5b-30000-seed0", source="/data/laion", kind="tar", requested=30000
    )
    run = MetricsRun.objects.create(study=study, reference=reference)
    values = {
        (64, "fid"): (20.5, 20.5),
        (64, "clip"): (30.1, 30.1),
        (96, "fid"): (31.25, 27.75),
        (96, "clip"): (29.0, 30.5),
    }
    for (size, metric), (baseline, ours) in values.items():
        for arm, value in (("baseline", baseline), ("ours", ours)):
            MetricResult.objects.create(
                run=run,
                metric=metric,
                arm=arm,
                width=size,
                height=size,
                value=value,
                images=30000,
                reference_images=30000 if metric == "fid" else 0,
                feature_network="inception" if metric == "fid" else "clip-vit-large-patch14",
            )
    return study


def test_export_writes_one_table_with_metrics_and_the_human_difference(rated_with_metrics, tmp_path):
    printed = export("sd21", "--format", "markdown")
    lines = [line for line in printed.splitlines() if line.startswith("| sd21 | laion5b-30000-seed0")]
    assert len(lines) == 2
    at_64, at_96 = lines
    assert at_64.startswith("| sd21 | laion5b-30000-seed0 | 64×64 | 30K | 20.50 | 20.50 | 30.10 | 30.10 | +")
    assert at_96 == "| sd21 | laion5b-30000-seed0 | 96×96 | 30K | 31.25 | 27.75 | 29.00 | 30.50 | – | – |"
    human = at_64.split(" | ")[8]
    assert human.count("[") == 1 and human.startswith("+")  # ours − baseline [CI], from the mixed model
    export("sd21", "--format", "all", "--out", str(tmp_path))
    assert (tmp_path / "paper-table.md").read_text(encoding="utf-8") in printed
    latex = (tmp_path / "paper-table.tex").read_text(encoding="utf-8")
    assert r"\begin{table*}[tb]" in latex and r"\toprule" in latex and r"laion5b-30000-seed0 & 64$\times$64" in latex
    assert (tmp_path / "paper-table.json").exists()


def test_results_page_shows_the_metrics(rated_with_metrics, client):
    html = staff_client(client).get("/results/sd21/").content.decode()
    assert 'id="metrics-table"' in html and "27.75" in html and "96×96" in html


def test_export_without_metrics_is_unchanged(rated_with_metrics, tmp_path):
    MetricResult.objects.all().delete()
    export("sd21", "--format", "all", "--out", str(tmp_path))
    assert not (tmp_path / "paper-table.md").exists()
