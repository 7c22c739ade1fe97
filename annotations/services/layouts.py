"""Where each condition's image stands on a screen of every condition's image (an assignment's ``layout``).

A layout is one digit per place from the left, the position of the condition shown there. The layouts used are the
K rotations of the conditions' order and the K rotations of its reverse: across the rotations of either, each
condition stands in each place once, and the two directions give each condition each neighbour on either side. Each
pair takes the layouts it has shown least (``balanced_layouts``), so across annotators each condition stands in each
place equally often for every pair, and of those the one that balances the places for the annotator. A pairwise
screen shows two conditions' images: its layouts are every ordered pair of two conditions (``pairwise_layouts``),
balanced the same way.
"""

import random
from collections import Counter
from collections.abc import Sequence

from ..models import ImagePair
from ..sequence import Design


def layouts(count: int) -> list[str]:
    """The layouts of ``count`` conditions: the rotations of their order and of its reverse, without repeats."""
    forward = [str(position) for position in range(count)]
    found: list[str] = []
    for order in (forward, forward[::-1]):
        for shift in range(count):
            layout = "".join(order[shift:] + order[:shift])
            if layout not in found:
                found.append(layout)
    return found


def pairwise_layouts(count: int) -> list[str]:
    """The layouts of a pairwise screen of ``count`` conditions: every ordered pair of two of them (left, right), so
    across them each unordered pair is shown equally often and each condition equally often on either side."""
    return [f"{left}{right}" for left in range(count) for right in range(count) if left != right]


def layouts_of(design: Design) -> list[str]:
    """The layouts a study's screens take: ``pairwise_layouts`` for a pairwise study, else ``layouts``."""
    return (pairwise_layouts if design.pairwise else layouts)(len(design.conditions))


def balanced_layouts(
    pairs: Sequence[ImagePair], *, options: Sequence[str], shown: Counter, rng: random.Random
) -> dict[int, str]:
    """A layout for each of an annotator's pairs (by pair id). For each pair in turn (in a random order): of the
    layouts this pair has shown least so far (``shown``: (pair id, layout) → assignments), the one that puts each
    condition where this annotator has seen it least, ties broken at random. So across annotators each pair shows
    each layout equally often (to one), and each annotator sees each condition in each place about equally often."""
    seen: Counter = Counter()  # (place, condition) → this annotator's images there so far
    chosen = {}
    order = list(pairs)
    rng.shuffle(order)
    for pair in order:
        costs = [
            (shown[(pair.pk, layout)], sum(seen[place] for place in enumerate(layout)), rng.random(), layout)
            for layout in options
        ]
        layout = min(costs)[-1]
        seen.update(enumerate(layout))
        chosen[pair.pk] = layout
    return chosen


def balanced_slots(checks: int, *, count: int, rng: random.Random) -> list[int]:
    """The places of ``checks`` attention checks' mismatched images: each place in turn from a random start,
    shuffled."""
    start = rng.randrange(count)
    slots = [(start + index) % count for index in range(checks)]
    rng.shuffle(slots)
    return slots
