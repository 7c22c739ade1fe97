"""Annotators joining a study: invite links, open and Prolific enrolment, and consent, which lays out their pairs.

Laying out an annotator's pairs (``allocate``: quotas, balanced sides and attention checks) runs with the study's row
locked (``SELECT ... FOR UPDATE`` on PostgreSQL), so annotators who join at the same moment are served one after the
other and never exceed a quota or share a slot.
"""

import random
import secrets
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generation.models import PairJob

from ..models import Annotator, Assignment, ImagePair, Study
from ..selectors import assigned_sides, enrolment_count
from .attention_checks import attention_checks

#: The most invite links made at once (the admin's invite page offers up to this many).
MAX_INVITES_AT_ONCE = 5000


class StudyFull(ValidationError):
    """No pairs are left for another annotator within the study's quotas."""


def _choose_pairs(study: Study, pairs: list[ImagePair], taken: Counter, rng: random.Random) -> list[ImagePair]:
    """The least-rated pairs with room under ``ratings_per_pair``, ties broken at random."""
    wanted = min(study.pairs_per_annotator or len(pairs), len(pairs))
    open_pairs = [pair for pair in pairs if study.ratings_per_pair is None or taken[pair.pk] < study.ratings_per_pair]
    if len(open_pairs) < wanted:
        raise StudyFull(f"Study {study.slug!r} is full: every pair has its {study.ratings_per_pair} ratings.")
    rng.shuffle(open_pairs)
    open_pairs.sort(key=lambda pair: taken[pair.pk])
    return open_pairs[:wanted]


def _sides(chosen: list[ImagePair], lean: Counter, rng: random.Random) -> dict[int, bool]:
    """Ours on the left for half of the chosen pairs: those so far shown more often with ours on the right."""
    order = list(chosen)
    rng.shuffle(order)
    order.sort(key=lambda pair: lean[pair.pk])
    sides = {pair.pk: index < len(order) // 2 for index, pair in enumerate(order)}
    if len(order) % 2:  # the middle pair goes either way
        sides[order[len(order) // 2].pk] = rng.random() < 0.5
    return sides


@transaction.atomic(savepoint=False)
def allocate(*, annotator: Annotator) -> list[Assignment]:
    """Create the annotator's assignments once: chosen pairs, balanced sides, checks, in a random order.

    Only what depends on the other annotators' assignments (the counts per pair, and the insert) runs with the
    study's row locked, so annotators joining at once wait on each other as briefly as they can.
    """
    if annotator.assignments.exists():
        return list(annotator.assignments.all())
    generated = Q(job__isnull=True) | Q(job__status=PairJob.Status.DONE)
    pairs = list(ImagePair.objects.filter(generated, study_id=annotator.study_id).order_by("pk"))
    study = Study.objects.select_for_update().get(pk=annotator.study_id)
    if not pairs:
        raise ValidationError(f"Study {study.slug!r} has no generated pairs.")
    rng = random.Random(secrets.randbits(64))
    assigned = assigned_sides(study)
    taken = Counter({pair_id: total for pair_id, (total, _) in assigned.items()})
    lean = Counter({pair_id: 2 * left - total for pair_id, (total, left) in assigned.items()})  # left minus right
    chosen = _choose_pairs(study, pairs, taken, rng)
    sides = _sides(chosen, lean, rng)
    assignments = [Assignment(pair=pair, ours_on_left=sides[pair.pk]) for pair in chosen]
    assignments += attention_checks(study, pairs, rng)
    rng.shuffle(assignments)
    for order, assignment in enumerate(assignments):
        assignment.annotator = annotator
        assignment.order = order
    return Assignment.objects.bulk_create(assignments)


@transaction.atomic
def enrol(*, study: Study, source: str, external_id: str = "", entry: dict | None = None) -> Annotator:
    """An annotator joining by the open link or from Prolific; a returning external id gets its own record back.

    A return with a new SESSION_ID (Prolific's id of one attempt) makes it the annotator's current one; the earlier
    ones are kept, oldest first, in ``entry["earlier_session_ids"]``.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if external_id:
        existing = study.annotators.filter(external_id=external_id).first()
        if existing is not None:
            _record_session(existing, (entry or {}).get("SESSION_ID", ""))
            return existing
    if not study.enrolment_open or study.status != Study.Status.OPEN:
        raise ValidationError(f"Study {study.title!r} is not taking new participants.")
    if study.enrolment_cap is not None and enrolment_count(study) >= study.enrolment_cap:
        raise StudyFull(f"Study {study.title!r} has all the participants it needs.")
    return Annotator.objects.create(study=study, source=source, external_id=external_id, entry=entry or {})


def _record_session(annotator: Annotator, session_id: str) -> None:
    current = annotator.entry.get("SESSION_ID", "")
    if not session_id or session_id == current:
        return
    earlier = annotator.entry.get("earlier_session_ids", [])
    annotator.entry = {**annotator.entry, "SESSION_ID": session_id, "earlier_session_ids": [*earlier, current]}
    annotator.save(update_fields=["entry"])


def create_annotators(*, study: Study, count: int) -> list[Annotator]:
    """Create ``count`` annotators with fresh secret tokens (their invite links)."""
    if count < 1:
        raise ValidationError("The number of annotators must be at least 1.")
    if count > MAX_INVITES_AT_ONCE:
        raise ValidationError(f"At most {MAX_INVITES_AT_ONCE} annotators can be created at once.")
    return Annotator.objects.bulk_create(Annotator(study=study) for _ in range(count))


@transaction.atomic
def give_consent(*, annotator: Annotator) -> Annotator:
    """Record consent and lay out the annotator's assignments (see ``allocate``).

    Raises ``StudyFull`` when no pairs are left within the study's quotas; nothing is stored then.
    """
    annotator = Annotator.objects.select_for_update().get(pk=annotator.pk)
    if annotator.consented_at is not None:
        return annotator
    allocate(annotator=annotator)
    annotator.consented_at = timezone.now()
    annotator.save(update_fields=["consented_at"])
    return annotator
