"""A study of more than the seed's two conditions: every condition's image of a prompt on one screen, in a layout
drawn per assignment and balanced, each image rated on each criterion and stored under its own condition."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations import image_links
from annotations.models import Assignment, CheckResponse, Rating
from annotations.services import enrolment
from annotations.services.layouts import balanced_slots, layouts
from tests.annotations.test_views import consent, url
from tests.factories import laid_out_images, make_conditions_study

pytestmark = pytest.mark.django_db


def current(annotator) -> Assignment:
    return annotator.assignments.filter(ratings__isnull=True, check_response__isnull=True).order_by("order").first()


def post_scores(client, annotator, assignment, scores: dict[str, str]):
    """A submit as the rating page's script sends it, with ``scores`` by field name."""
    data = {"assignment": assignment.pk, **scores}
    return client.post(url("rate", annotator), data, HTTP_ACCEPT="application/json")


def opened_links(annotator, images: dict[str, str]) -> dict[str, str]:
    """The storage names the page's image links name, by place."""
    return {
        place: image_links.open_link(token=annotator.token, link=link.rsplit("/", 1)[1].removesuffix(".png"))
        for place, link in images.items()
    }


def test_layouts_are_the_rotations_of_the_order_and_of_its_reverse():
    assert layouts(2) == ["01", "10"]
    assert layouts(3) == ["012", "120", "201", "210", "102", "021"]
    found = layouts(4)
    assert len(found) == 8 and len(set(found)) == 8
    for place in range(4):  # across the rotations of either direction, each condition once in each place
        assert sorted(layout[place] for layout in found[:4]) == list("0123")
        assert sorted(layout[place] for layout in found[4:]) == list("0123")


def test_a_screen_shows_every_conditions_image_where_its_layout_puts_it(client):
    study, (annotator, _) = make_conditions_study(slug="k4", prompts=3)
    assert list(study.conditions.values_list("key", "kind")) == [
        ("baseline", "plain"),
        ("ours", "entropy"),
        ("resized", "resized"),
        ("other", "imported"),
    ]
    consent_page = client.get(url("invite", annotator)).content.decode()
    assert "Each set shows 4 images made from the same text, <strong>Image A</strong> to <strong>Image D</strong>" in (
        consent_page
    )
    consent(client, annotator)
    assignments = list(annotator.assignments.select_related("pair__job", "pair__prompt", "pair__study"))
    assert assignments and all(sorted(a.layout) == list("0123") for a in assignments)
    response = client.get(url("rate", annotator))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<figure ") == 4 and "Set 1 of 3" in page
    first = current(annotator)
    context_images = response.context["pair"]["images"]
    assert list(context_images) == ["1", "2", "3", "4"]
    assert opened_links(annotator, context_images) == laid_out_images(first)
    assert len(set(laid_out_images(first).values())) == 4  # four different images


def test_each_places_scores_go_to_the_condition_shown_there_once(client):
    study, (annotator, _) = make_conditions_study(slug="k4", prompts=3, preset="resized_quality")
    consent(client, annotator)
    client.get(url("rate", annotator))
    assignment = current(annotator)
    scores = {str(place): str(place + 1) for place in range(1, 5)}  # consistency 2..5 by place
    scores |= {f"{place}-quality": str(place) for place in range(1, 5)}  # quality 1..4 by place
    with CaptureQueriesContext(connection) as queries:
        response = post_scores(client, annotator, assignment, scores)
    assert response.status_code == 200 and "pair" in response.json(), response.content
    assert len(queries) == 4, [query["sql"] for query in queries]  # the rating path's budget holds for K images
    conditions = list(study.conditions.order_by("position"))
    stored = {
        (rating.condition.key, rating.criterion.key): rating.score
        for rating in Rating.objects.filter(assignment=assignment).select_related("condition", "criterion")
    }
    expected = {}
    for index, digit in enumerate(assignment.layout):
        key = conditions[int(digit)].key
        expected[(key, "consistency")] = index + 2
        expected[(key, "quality")] = index + 1
    assert stored == expected
    again = post_scores(client, annotator, assignment, {key: "7" for key in scores})  # a double submit
    assert again.status_code == 200
    assert Rating.objects.filter(assignment=assignment).count() == 8
    assert (
        Rating.objects.get(
            assignment=assignment, condition=conditions[int(assignment.layout[0])], criterion__key="quality"
        ).score
        == 1
    )


def test_a_missing_place_or_a_score_past_a_scale_names_the_field_and_stores_nothing(client):
    _, (annotator, _) = make_conditions_study(slug="k4", prompts=2, preset="resized_quality")
    consent(client, annotator)
    client.get(url("rate", annotator))
    assignment = current(annotator)
    scores = {str(place): "5" for place in range(1, 5)} | {f"{place}-quality": "3" for place in range(1, 5)}
    response = post_scores(client, annotator, assignment, {**scores, "4-quality": "9"})  # quality is 1–7
    assert response.status_code == 400 and "9 is outside 1–7" in response.json()["error"]
    del scores["3"]
    response = post_scores(client, annotator, assignment, scores)
    assert response.status_code == 400 and "Choose a score" in response.json()["error"]
    assert not Rating.objects.exists()


def test_layouts_are_balanced_per_pair_and_per_annotator():
    study, annotators = make_conditions_study(slug="k4", prompts=4, annotators=16)
    for annotator in annotators:
        enrolment.give_consent(annotator=annotator)
    assignments = list(Assignment.objects.filter(pair__study=study, check_pair__isnull=True))
    per_pair = Counter((a.pair_id, a.layout) for a in assignments)
    for pair_id in {a.pair_id for a in assignments}:
        uses = [per_pair[(pair_id, layout)] for layout in layouts(4)]
        assert max(uses) - min(uses) <= 1, uses  # 16 annotators: each of the 8 layouts twice
        places = Counter(
            (index, digit) for a in assignments if a.pair_id == pair_id for index, digit in enumerate(a.layout)
        )
        assert set(places.values()) == {4}  # each condition in each place 4 times of 16
    for annotator in annotators:
        own = [a.layout for a in assignments if a.annotator_id == annotator.pk]
        places = Counter((index, digit) for layout in own for index, digit in enumerate(layout))
        assert len(own) == 4 and max(places.values()) < 4  # no condition in one place on all four of its screens


def test_an_attention_check_shows_the_other_prompts_image_of_the_same_condition_in_its_place(client):
    study, (annotator, _) = make_conditions_study(slug="k4", prompts=4, attention_checks=2)
    consent(client, annotator)
    checks = list(annotator.assignments.filter(check_pair__isnull=False).select_related("pair__job", "check_pair__job"))
    assert len(checks) == 2 and all(sorted(check.layout) == list("0123") for check in checks)
    assert all(check.check_arm == "" and check.check_slot in range(4) for check in checks)
    rated = 0
    while (assignment := current(annotator)) is not None:
        page = client.get(url("rate", annotator))
        assert opened_links(annotator, page.context["pair"]["images"]) == laid_out_images(assignment)
        if assignment.check_pair_id:
            # the mismatched image scores 2, lower than each other: it passes; the second check's ties the lowest of
            # the others: it fails
            scores = {str(place): str(place + 2) for place in range(1, 5)}
            lowest_other = min(int(score) for place, score in scores.items() if place != str(assignment.check_slot + 1))
            scores[str(assignment.check_slot + 1)] = "2" if not rated else str(lowest_other)
            rated += 1
        else:
            scores = {str(place): "6" for place in range(1, 5)}
        assert post_scores(client, annotator, assignment, scores).status_code == 200
    responses = list(CheckResponse.objects.filter(assignment__annotator=annotator).order_by("assignment__order"))
    (first, second) = responses
    assert (first.mismatched_score, first.passed) == (2, True) and first.matching_score in (3, 4)
    assert second.matching_score == second.mismatched_score and not second.passed
    assert not Rating.objects.filter(assignment__check_pair__isnull=False).exists()


def test_check_places_take_each_place_in_turn():
    import random

    slots = balanced_slots(8, count=4, rng=random.Random(3))
    assert Counter(slots) == {0: 2, 1: 2, 2: 2, 3: 2}


def test_the_seed_screen_is_unchanged_for_a_study_of_two_conditions(client):
    from tests.factories import make_open_study

    _, (annotator, _) = make_open_study(slug="seed", prompts=2)
    consent(client, annotator)
    assert set(annotator.assignments.values_list("layout", flat=True)) == {""}
    page = client.get(url("rate", annotator))
    assert list(page.context["pair"]["images"]) == ["left", "right"] and "Pair 1 of 2" in page.content.decode()


def test_the_monitor_tests_the_places_of_a_screen_of_every_conditions_image(client, admin_client):
    """The position check on a screen of four: each condition's images by place over the finished annotators, and
    the χ² test of independence; flags, quality and per-pair loads come out without error."""
    from annotations.selectors import live_monitor
    from annotations.services import ratings

    study, annotators = make_conditions_study(slug="k4", prompts=2, annotators=4)
    for annotator in annotators:
        enrolment.give_consent(annotator=annotator)
        for assignment in annotator.assignments.order_by("order"):
            scores = {str(place): str(place) for place in range(1, 5)}
            ratings.submit_rating(annotator_id=annotator.pk, assignment_id=assignment.pk, scores=scores)
    live = live_monitor(study=study)
    places = live.position.places
    assert list(places) == ["baseline", "ours", "resized", "other"]
    assert all(sum(counts) == 8 for counts in places.values())  # 4 annotators × 2 screens
    assert [sum(column) for column in zip(*places.values(), strict=True)] == [8, 8, 8, 8]
    assert live.position.ratings == 8 and live.position.p_value is not None and live.position.warning == ""
    page = admin_client.get(reverse("annotations:monitor", args=[study.slug]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "balanced: each condition's image in each place" in text and "ours left" not in text
    data = admin_client.get(reverse("annotations:monitor_data", args=[study.slug])).json()
    assert data["position"]["places"] == places
