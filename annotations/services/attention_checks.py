"""Attention checks: pairs in which one image belongs to another prompt, mixed into an annotator's sequence."""

import random
import secrets

from django.core.exceptions import ValidationError

from ..models import ARMS, Assignment, ImagePair, Study
from ..sequence import Design
from .layouts import balanced_slots, layouts_of
from .studies import MIN_PAIRS_FOR_ATTENTION_CHECKS


def balanced_sides(count: int, rng: random.Random) -> list[bool]:
    """``count`` values of "ours on the left", half True (one more at random when odd), shuffled."""
    sides = [True] * (count // 2) + [False] * (count // 2)
    if count % 2:
        sides.append(rng.random() < 0.5)
    rng.shuffle(sides)
    return sides


def draw_arms() -> tuple[str, str]:
    """The arms of a check's matching and mismatched image: each a fair draw of its own.

    Drawn from the system's CSPRNG, not from the allocation's seeded generator, whose other draws (the order of
    the sequence, the checks' sides and pairs) the annotator sees.
    """
    arms = [arm for arm, _ in ARMS]
    return secrets.choice(arms), secrets.choice(arms)


def attention_checks(
    study: Study, pairs: list[ImagePair], rng: random.Random, design: Design | None = None
) -> list[Assignment]:
    """``study.attention_checks`` checks: a prompt's image beside an image of another prompt.

    On the seed's screen of two, each image's arm is drawn at random on its own (``draw_arms``). On a screen of
    every condition's image (``design`` not paired), a check shows what a rating shows, each condition's image once
    in a layout drawn at random, but in one place (each place in turn) the other prompt's image of that condition:
    nothing on it tells a condition apart. The annotator may rate these pairs too; an image seen again then says
    nothing of its arm, and the images of a check say nothing of each other's."""
    if study.attention_checks == 0:
        return []
    if len(pairs) < MIN_PAIRS_FOR_ATTENTION_CHECKS:
        raise ValidationError(f"Study {study.slug!r} needs at least two pairs for attention checks.")
    if design is not None and not design.paired:
        options = layouts_of(design)
        count = len(options[0])  # the screen's places
        return [
            Assignment(
                pair=matching, check_pair=other, ours_on_left=False, layout=secrets.choice(options), check_slot=slot
            )
            for slot in balanced_slots(study.attention_checks, count=count, rng=rng)
            for matching, other in [rng.sample(pairs, 2)]
        ]
    lefts = balanced_sides(study.attention_checks, rng)
    checks = []
    for mismatched_left in lefts:
        matching, other = rng.sample(pairs, 2)
        check_arm, check_other_arm = draw_arms()
        checks.append(
            Assignment(
                pair=matching,
                check_pair=other,
                ours_on_left=mismatched_left,
                check_arm=check_arm,
                check_other_arm=check_other_arm,
            )
        )
    return checks
