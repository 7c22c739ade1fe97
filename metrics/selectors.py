"""Reads of a study's metric results for the paper table (``analysis.paper_table``), as plain rows."""

from annotations.models import Study

from .models import Arm, Metric, MetricResult


def metric_rows(study: Study) -> list[dict]:
    """One dict per reference subset and resolution with results, ordered by reference name, width and height:
    ``study``, ``reference``, ``width``, ``height``, ``images``, ``reference_images``, ``failed``,
    ``feature_network`` and ``fid_baseline``, ``fid_ours``, ``clip_baseline``, ``clip_ours`` (None when not
    computed)."""
    rows: dict[tuple, dict] = {}
    results = MetricResult.objects.filter(run__study=study).select_related("run__reference")
    for result in results.order_by("run__reference__name", "width", "height"):
        key = (result.run.reference.name, result.width, result.height)
        row = rows.get(key)
        if row is None:
            row = rows[key] = {
                "study": study.slug,
                "reference": key[0],
                "width": result.width,
                "height": result.height,
                "images": 0,
                "reference_images": 0,
                "failed": 0,
                "feature_network": "",
                "fid_baseline": None,
                "fid_ours": None,
                "clip_baseline": None,
                "clip_ours": None,
            }
        row["images"] = max(row["images"], result.images)
        row["failed"] = max(row["failed"], result.failed)
        if result.metric == Metric.FID:
            row["reference_images"] = result.reference_images
            row["feature_network"] = result.feature_network
        metric = "fid" if result.metric == Metric.FID else "clip"
        row[f"{metric}_{'ours' if result.arm == Arm.OURS else 'baseline'}"] = result.value
    return list(rows.values())
