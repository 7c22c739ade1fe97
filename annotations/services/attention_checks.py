"""Attention checks: pairs in which one image belongs to another prompt, mixed into an annotator's sequence."""

import random
import secrets

from django.core.exceptions import ValidationError

from ..models import ARMS, Assignment, ImagePair, Study
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


def attention_checks(study: Study, pairs: list[ImagePair], rng: random.Random) -> list[Assignment]:
    """``study.attention_checks`` checks: a prompt's image beside an image of another prompt, each image's arm drawn
    at random on its own (``draw_arms``). The annotator may rate these pairs too; an image seen again then says
    nothing of its arm, and the two images of a check say nothing of each other's."""
    if study.attention_checks == 0:
        return []
    if len(pairs) < MIN_PAIRS_FOR_ATTENTION_CHECKS:
        raise ValidationError(f"Study {study.slug!r} needs at least two pairs for attention checks.")
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
