"""Annotators joining a study: invite links, open and Prolific enrolment, and consent, which lays out their pairs.

Laying out an annotator's pairs (``allocate``: quotas, balanced sides and attention checks) runs with the study's row
locked (``SELECT ... FOR UPDATE`` on PostgreSQL), so annotators who join at the same moment are served one after the
other and never exceed a quota or share a slot. Enrolment and allocation first release the study's annotators whose
lease has ended (``leases``), so dropouts hold no place and no pair.

Enrolment binds an annotator to its browser (``binding``) and counts new annotators per network address: a keyed
hash of the address is stored (``enrolled_from``), never the address.
"""

import ipaddress
import random
from collections import Counter
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from generation.models import PairJob

from ..models import Annotator, Assignment, ImagePair, Study
from ..selectors import assigned_layouts, assigned_sides, enrolment_count, rating_design
from . import binding, leases
from .attention_checks import attention_checks
from .layouts import balanced_layouts, layouts_of
from .pilot_allocation import pilot_sequence

#: The most invite links made at once (the admin's invite page offers up to this many).
MAX_INVITES_AT_ONCE = 5000
#: What laying out a sequence reads of the study (``allocate``, ``_choose_pairs``, ``attention_checks``).
ALLOCATION_FIELDS = ("id", "slug", "pairs_per_annotator", "ratings_per_pair", "attention_checks")


class StudyFull(ValidationError):
    """No pairs are left for another annotator within the study's quotas."""


class TooManyEnrolments(ValidationError):
    """The network address enrolled as many annotators in the last hour as the study allows."""


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
    """Create the annotator's assignments once: chosen pairs, balanced sides (on a screen of every condition's image,
    balanced layouts: ``layouts``), checks, in a random order.

    Only what depends on the other annotators' assignments (the counts per pair, and the insert) runs with the
    study's row locked, so annotators joining at once wait on each other as briefly as they can.
    """
    if annotator.assignments.exists():
        return list(annotator.assignments.all())
    if annotator.is_pilot:
        return pilot_sequence(annotator=annotator)
    generated = Q(job__isnull=True) | Q(job__status=PairJob.Status.DONE)
    pairs = list(ImagePair.objects.filter(generated, study_id=annotator.study_id).order_by("pk"))
    # the row is locked for its counts, not read whole: the allocation needs only these of it
    study = Study.objects.select_for_update().only(*ALLOCATION_FIELDS).get(pk=annotator.study_id)
    if not pairs:
        raise ValidationError(f"Study {study.slug!r} has no generated pairs.")
    rng = random.SystemRandom()  # the order and sides an annotator sees: nothing to recover a seed from
    assigned = assigned_sides(study)
    taken = Counter({pair_id: total for pair_id, (total, _) in assigned.items()})
    lean = Counter({pair_id: 2 * left - total for pair_id, (total, left) in assigned.items()})  # left minus right
    chosen = _choose_pairs(study, pairs, taken, rng)
    design = rating_design(study_id=study.pk)
    if design.paired:
        sides = _sides(chosen, lean, rng)
        assignments = [Assignment(pair=pair, ours_on_left=sides[pair.pk]) for pair in chosen]
    else:
        shown = assigned_layouts(study)
        laid = balanced_layouts(chosen, options=layouts_of(design), shown=shown, rng=rng)
        assignments = [Assignment(pair=pair, ours_on_left=False, layout=laid[pair.pk]) for pair in chosen]
    assignments += attention_checks(study, pairs, rng, design)
    rng.shuffle(assignments)
    for order, assignment in enumerate(assignments):
        assignment.annotator = annotator
        assignment.order = order
    return Assignment.objects.bulk_create(assignments)


def enrol(
    *,
    study: Study,
    source: str,
    external_id: str = "",
    entry: dict | None = None,
    cookie: str | None = None,
    address: str = "",
) -> Annotator:
    """An annotator joining by the open link or from Prolific, bound to its browser; a returning external id gets
    its own record back.

    A returning Prolific participant must come from its browser (``cookie``: the verified value of the browser's
    cookie) or repeat its current attempt exactly (``binding.admit``; raises ``binding.OtherBrowser``). The open
    link's external id comes from a random value of the join form, so a return with it is the same join. A return
    with a new SESSION_ID (Prolific's id of one attempt) makes it the annotator's current one; the earlier ones are
    kept, oldest first, in ``entry["earlier_session_ids"]``. A new annotator is refused when the study is closed
    to enrolment, full (``StudyFull``), or when ``address`` (the client's network address) enrolled the study's
    hourly limit already (``TooManyEnrolments``). Under a cap, the study's expired annotators are released first
    (they count toward no quota), in a transaction of its own, outside the study's lock.
    """
    study = Study.objects.get(pk=study.pk)  # as stored now: the cap and the timeout
    if study.enrolment_cap is not None:
        leases.release_expired(study_id=study.pk)
    arguments = {"source": source, "external_id": external_id, "entry": entry, "cookie": cookie, "address": address}
    try:
        return _enrol(study=study, **arguments)
    except StudyFull:  # places may be held by annotators whose lease ended since the last look
        if not leases.release_expired(study_id=study.pk, force=True):
            raise
        return _enrol(study=study, **arguments)


@transaction.atomic
def _enrol(
    *, study: Study, source: str, external_id: str, entry: dict | None, cookie: str | None, address: str
) -> Annotator:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if external_id:
        existing = study.annotators.select_for_update().filter(external_id=external_id).first()
        if existing is not None:
            if source == Annotator.Source.PROLIFIC:
                binding.admit(existing, cookie=cookie, entry=entry)
            else:
                binding.bind(existing)
            _record_session(existing, (entry or {}).get("SESSION_ID", ""))
            return existing
    if not study.enrolment_open or study.status != Study.Status.OPEN:
        raise ValidationError(f"Study {study.title!r} is not taking new participants.")
    if study.enrolment_cap is not None and enrolment_count(study) >= study.enrolment_cap:
        raise StudyFull(f"Study {study.title!r} has all the participants it needs.")
    enrolled_from = address_key(address)
    limit = study.enrolments_per_address_per_hour
    if limit is not None:
        hour_ago = timezone.now() - timedelta(hours=1)
        joined = study.annotators.filter(enrolled_from=enrolled_from, created_at__gte=hour_ago, is_pilot=False)
        if joined.count() >= limit:
            raise TooManyEnrolments(
                f"Too many people joined from your network in the last hour (at most {limit}); please try again later."
            )
    annotator = Annotator.objects.create(
        study=study, source=source, external_id=external_id, entry=entry or {}, enrolled_from=enrolled_from
    )
    return binding.bind(annotator)


def address_key(address: str) -> str:
    """A keyed hash of a network address, what ``enrolled_from`` stores: an IPv6 address counts by its /64
    network (what one subscriber is usually given), an IPv4 address by itself."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        network = address
    else:
        network = str(ipaddress.ip_network(f"{parsed}/64", strict=False)) if parsed.version == 6 else str(parsed)
    return salted_hmac("annotations.enrolled-from", network, algorithm="sha256").hexdigest()


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


def give_consent(*, annotator: Annotator) -> Annotator:
    """Record consent and lay out the annotator's assignments (see ``allocate``), once the study's expired
    annotators are released (``leases.release_expired``, in a transaction of its own: the study's lock, which
    annotators consenting at once wait on, is not held for it).

    Raises ``StudyFull`` when no pairs are left within the study's quotas, and ``leases.TimeRanOut`` for an annotator
    whose lease has ended; nothing is stored then.
    """
    if annotator.consented_at is not None or annotator.is_pilot:  # a pilot needs no place: nothing to release
        return _consent(annotator=annotator)
    leases.release_expired(study_id=annotator.study_id, sparing=annotator.pk)
    try:
        return _consent(annotator=annotator)
    except StudyFull:  # pairs may be held by annotators whose lease ended since the last look
        if not leases.release_expired(study_id=annotator.study_id, sparing=annotator.pk, force=True):
            raise
        return _consent(annotator=annotator)


@transaction.atomic
def _consent(*, annotator: Annotator) -> Annotator:
    annotator = Annotator.objects.select_for_update(of=("self",)).select_related("study").get(pk=annotator.pk)
    if annotator.consented_at is not None:
        return annotator
    if leases.has_run_out(annotator):
        raise leases.TimeRanOut()
    # stamped first, so that the study's lock (taken in allocate, held to the commit) covers only the pair counts
    # and the insert; a refusal there (StudyFull) rolls the stamp back with everything else
    annotator.consented_at = timezone.now()
    annotator.save(update_fields=["consented_at"])
    allocate(annotator=annotator)
    return annotator
