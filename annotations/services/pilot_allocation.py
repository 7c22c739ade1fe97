"""A pilot's sequence of pairs (``services.pilots``): laid out as a real one is, but from no quota."""

import random

from django.core.exceptions import ValidationError

from ..models import Annotator, Assignment
from ..selectors import generated_pairs
from .attention_checks import attention_checks, balanced_sides


def pilot_sequence(*, annotator: Annotator) -> list[Assignment]:
    """Lay out a pilot's assignments: ``pairs_per_annotator`` generated pairs drawn at random, ours on the left for
    half of them, and the study's attention checks, in a random order, as a real sequence is made. No quota is
    read or used and the study's row is not locked: a pilot takes nothing from anyone."""
    study = annotator.study
    pairs = generated_pairs(study_id=study.pk)
    if not pairs:
        raise ValidationError(f"Study {study.slug!r} has no generated pairs.")
    rng = random.SystemRandom()
    chosen = rng.sample(pairs, min(study.pairs_per_annotator or len(pairs), len(pairs)))
    sides = balanced_sides(len(chosen), rng)
    assignments = [Assignment(pair=pair, ours_on_left=left) for pair, left in zip(chosen, sides, strict=True)]
    assignments += attention_checks(study, pairs, rng)
    rng.shuffle(assignments)
    for order, assignment in enumerate(assignments):
        assignment.annotator = annotator
        assignment.order = order
    return Assignment.objects.bulk_create(assignments)
