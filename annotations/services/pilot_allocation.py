"""A pilot's sequence of pairs (``services.pilots``): laid out as a real one is, but from no quota."""

import random
from collections import Counter

from django.core.exceptions import ValidationError

from ..models import Annotator, Assignment
from ..selectors import generated_pairs, rating_design
from .attention_checks import attention_checks, balanced_sides
from .layouts import balanced_layouts, layouts_of


def pilot_sequence(*, annotator: Annotator) -> list[Assignment]:
    """Lay out a pilot's assignments: ``pairs_per_annotator`` generated pairs drawn at random, ours on the left for
    half of them (balanced layouts on a screen of every condition's image), and the study's attention checks, in a
    random order, as a real sequence is made. No quota is read or used and the study's row is not locked: a pilot
    takes nothing from anyone."""
    study = annotator.study
    pairs = generated_pairs(study_id=study.pk)
    if not pairs:
        raise ValidationError(f"Study {study.slug!r} has no generated pairs.")
    rng = random.SystemRandom()
    chosen = rng.sample(pairs, min(study.pairs_per_annotator or len(pairs), len(pairs)))
    design = rating_design(study_id=study.pk)
    if design.paired:
        sides = balanced_sides(len(chosen), rng)
        assignments = [Assignment(pair=pair, ours_on_left=left) for pair, left in zip(chosen, sides, strict=True)]
    else:
        laid = balanced_layouts(chosen, options=layouts_of(design), shown=Counter(), rng=rng)
        assignments = [Assignment(pair=pair, ours_on_left=False, layout=laid[pair.pk]) for pair in chosen]
    assignments += attention_checks(study, pairs, rng, design)
    rng.shuffle(assignments)
    for order, assignment in enumerate(assignments):
        assignment.annotator = annotator
        assignment.order = order
    return Assignment.objects.bulk_create(assignments)
