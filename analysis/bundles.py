"""Results bundles, the writes: asking for a study's bundle and building it.

A bundle is ``documents.results_zip`` of the study (everything ``export_results --format all`` writes, by the
command's own code), stored through Django's storage API as ``results/<32 hex>.zip``: a name drawn at random when
the bundle is asked for, so that it cannot be guessed even where the storage is reachable from outside; the site
serves it only to users who may export the study (``analysis.views``). A study of up to ``INLINE_RATINGS`` ratings
has its bundle built in the request that asks for it (about a second); a larger one is built by the Celery task
``analysis.tasks.build_results_bundle`` on the workers' queue, writing its progress to the bundle's row for the
results page to show.
"""

import logging
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations.models import Rating, Study
from annotations.selectors import ONE_PER_PAIR
from generation.storage import write_atomic

from .documents import results_zip
from .models import ResultsBundle
from .selectors import bundle_fingerprint

logger = logging.getLogger(__name__)

#: Studies with at most this many ratings have their bundle built in the request; larger ones by a Celery task.
INLINE_RATINGS = 5000
#: The queue of the bundle task: the one every EvalSite worker consumes (``-Q gpu``), so that no other worker has
#: to run; a bundle asked for during generation waits behind the generation tasks queued before it.
BUNDLE_QUEUE = "gpu"
#: A bundle queued or building for longer than this is taken for lost (its task gone); asking again starts another.
LOST_AFTER = timedelta(minutes=30)
UNDER_WAY = (ResultsBundle.Status.QUEUED, ResultsBundle.Status.BUILDING)


def new_bundle_name() -> str:
    """A fresh storage name for a bundle, ``results/<32 hex>.zip`` from 128 random bits."""
    return f"results/{secrets.token_hex(16)}.zip"


def request_bundle(*, study: Study) -> ResultsBundle:
    """The study's bundle of its current data: the newest one made from them when it is done or under way (and not
    lost), else a new one, built here for a study of up to ``INLINE_RATINGS`` ratings and queued for a worker
    otherwise. Asking twice for the same data builds once."""
    from .tasks import build_results_bundle

    with transaction.atomic():
        Study.objects.select_for_update().get(pk=study.pk)  # one request at a time per study
        fingerprint = bundle_fingerprint(study)
        fresh = ResultsBundle.objects.filter(study=study, fingerprint=fingerprint).first()
        if fresh is not None and (
            fresh.status == ResultsBundle.Status.DONE
            or (fresh.status in UNDER_WAY and fresh.requested_at > timezone.now() - LOST_AFTER)
        ):
            return fresh
        ratings = Rating.objects.filter(
            ONE_PER_PAIR, assignment__annotator__study=study, assignment__annotator__is_pilot=False
        ).count()
        bundle = ResultsBundle.objects.create(
            study=study, fingerprint=fingerprint, ratings=ratings, name=new_bundle_name()
        )
        if ratings > INLINE_RATINGS:
            transaction.on_commit(lambda: build_results_bundle.apply_async((bundle.pk,), queue=BUNDLE_QUEUE))
    if ratings <= INLINE_RATINGS:
        build_results_bundle.apply((bundle.pk,))  # the task itself, run here and now
    bundle.refresh_from_db()
    return bundle


class _StepsBar:
    """A progress bar (``evalsite.progress``'s interface) that stores the steps done on the bundle's row."""

    def __init__(self, bundle_id: int, total: int = 0, **options) -> None:
        self.bundle_id, self.done = bundle_id, 0
        ResultsBundle.objects.filter(pk=bundle_id).update(step=0, steps=total)

    def __enter__(self) -> "_StepsBar":
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.done += n
        ResultsBundle.objects.filter(pk=self.bundle_id).update(step=self.done)


def build_bundle(*, bundle_id: int) -> ResultsBundle | None:
    """Build a queued bundle and store its zip; None for one that is done or failed already (a task delivered
    twice). A failure is recorded on the bundle with its reason, for the results page to show. Once it is done, the
    study's older bundles and their files are removed."""
    claimed = ResultsBundle.objects.filter(pk=bundle_id, status__in=UNDER_WAY).update(
        status=ResultsBundle.Status.BUILDING
    )
    if not claimed:
        return None
    bundle = ResultsBundle.objects.select_related("study").get(pk=bundle_id)
    # What it is built from now, which a rating stored since it was asked for may have changed.
    ResultsBundle.objects.filter(pk=bundle_id).update(fingerprint=bundle_fingerprint(bundle.study))
    try:
        data, files = results_zip(slug=bundle.study.slug, bar=lambda **options: _StepsBar(bundle_id, **options))
        write_atomic(bundle.name, data)
    except Exception as exc:  # whatever stopped it is shown on the results page; nothing is left half-written
        if not isinstance(exc, ValidationError):
            logger.exception("Results bundle %s of %s failed", bundle_id, bundle.study.slug)
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        ResultsBundle.objects.filter(pk=bundle_id).update(
            status=ResultsBundle.Status.FAILED, error=reason, finished_at=timezone.now()
        )
    else:
        ResultsBundle.objects.filter(pk=bundle_id).update(
            status=ResultsBundle.Status.DONE,
            files=[[name, size] for name, size in files],
            size=len(data),
            finished_at=timezone.now(),
        )
        _remove_older(bundle)
    bundle.refresh_from_db()
    return bundle


def _remove_older(bundle: ResultsBundle) -> None:
    """Remove the bundles of ``bundle``'s study asked for before it, with their files, but those still under way
    (and not lost)."""
    under_way = Q(status__in=UNDER_WAY, requested_at__gt=timezone.now() - LOST_AFTER)
    older = ResultsBundle.objects.filter(study_id=bundle.study_id, pk__lt=bundle.pk).exclude(under_way)
    for name in list(older.values_list("name", flat=True)):
        default_storage.delete(name)
    older.delete()
