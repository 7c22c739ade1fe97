"""Celery tasks of the analysis. They take ids, re-fetch rows, and are idempotent."""

from celery import shared_task

from .bundles import build_bundle


@shared_task(acks_late=True, reject_on_worker_lost=True)
def build_results_bundle(bundle_id: int) -> str:
    """Build one results bundle (``analysis.bundles.build_bundle``); one done or failed already is left alone."""
    bundle = build_bundle(bundle_id=bundle_id)
    return bundle.status if bundle is not None else "skipped"
