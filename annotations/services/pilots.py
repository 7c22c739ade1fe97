"""Pilot runs: trying a study through the real annotator pages before anyone is paid to.

A pilot is an annotator flagged ``is_pilot``, made by the study page's *Preview as annotator* (``start_pilot``) or
by the study's pilot link (``join_pilot``), in a study whose pairs are generated (ready or open). It goes through
the same pages, pairs, attention checks and rules as anyone, but counts nowhere: its sequence is drawn without the
quotas and without the study's lock (``pilot_allocation``), it holds no place under the enrolment cap and no lease,
its consent locks no setting, and every selector that counts or analyses leaves it out. ``delete_pilot_runs``
deletes a study's pilots with their answers.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import PILOT_STATUSES, Annotator, Study
from .enrolment import TooManyEnrolments, address_key


def check_pilot_allowed(study: Study) -> None:
    """Refuse a pilot run of a study whose pairs are not generated (a draft, or generating) or that is closed."""
    if study.status in PILOT_STATUSES:
        return
    if study.status == Study.Status.CLOSED:
        raise ValidationError(f"Study {study.title!r} is closed: open it again to try it as a pilot.")
    state = "still generating" if study.status == Study.Status.GENERATING else "a draft"
    raise ValidationError(f"Study {study.title!r} is {state}: it can be tried as a pilot once every pair is generated.")


def start_pilot(*, study: Study) -> Annotator:
    """A new pilot annotator of ``study`` for the researcher's own preview; its invite link starts the run."""
    study = Study.objects.get(pk=study.pk)
    check_pilot_allowed(study)
    return Annotator.objects.create(study=study, is_pilot=True)


@transaction.atomic
def join_pilot(*, study: Study, external_id: str, address: str = "") -> Annotator:
    """The pilot annotator a pilot link's form makes: the same ``external_id`` (a form posted twice) gets the same
    one. Refused when the study cannot be piloted now, or when ``address`` made the study's hourly limit of pilots
    already (``TooManyEnrolments``; pilots are counted apart from real annotators)."""
    study = Study.objects.get(pk=study.pk)
    check_pilot_allowed(study)
    pilots = study.annotators.filter(is_pilot=True)
    if external_id and (existing := pilots.filter(external_id=external_id).first()):
        return existing
    enrolled_from = address_key(address)
    limit = study.enrolments_per_address_per_hour
    if limit is not None:
        hour_ago = timezone.now() - timedelta(hours=1)
        if pilots.filter(enrolled_from=enrolled_from, created_at__gte=hour_ago).count() >= limit:
            raise TooManyEnrolments(
                f"Too many pilot runs started from your network in the last hour (at most {limit}); please try "
                "again later."
            )
    try:
        with transaction.atomic():
            return Annotator.objects.create(
                study=study,
                source=Annotator.Source.OPEN,
                external_id=external_id,
                enrolled_from=enrolled_from,
                is_pilot=True,
            )
    except IntegrityError:  # the twin of a double post made it first
        existing = pilots.filter(external_id=external_id).first()
        if existing is None:
            raise ValidationError("This pilot run could not be started; please open the pilot link again.") from None
        return existing


@transaction.atomic
def delete_pilot_runs(*, study: Study) -> int:
    """Delete the study's pilot annotators with their assignments, ratings and attention-check answers; the number
    of pilots deleted. Nothing of a real annotator is touched."""
    pilots = Annotator.objects.filter(study_id=study.pk, is_pilot=True)
    count = pilots.count()
    pilots.delete()
    return count
