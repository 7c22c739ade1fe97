"""The rating path's SQL (annotations/sequence.py) against the ORM's view of the same rows, on either database."""

import pytest

from annotations import selectors, sequence, services
from annotations.models import Annotator, Assignment, CheckResponse
from tests.factories import make_open_study, pair_rating, pair_ratings, shown_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator() -> Annotator:
    _, (annotator, _) = make_open_study(slug="q", prompts=4, attention_checks=2)
    services.give_consent(annotator=annotator)
    return annotator


def design(annotator: Annotator):
    return selectors.rating_design(study_id=annotator.study_id)


def both(left: int, right: int) -> dict[tuple[str, int], int]:
    """The two sides' scores on the study's one criterion, as ``store_answer`` takes them."""
    return {("left", 0): left, ("right", 0): right}


def test_rater_reads_the_annotator_and_its_study(annotator):
    rater = sequence.rater(annotator.token)
    assert (rater.annotator_id, rater.study_id) == (annotator.pk, annotator.study_id)
    assert rater.consented and rater.study_open and not (rater.started or rater.finished or rater.screened_out)
    assert rater.may_rate
    assert sequence.rater("no-such-token") is None


def test_ahead_matches_the_orm_through_a_whole_sequence(annotator):
    assignments = list(annotator.assignments.select_related("pair__prompt", "pair__job", "check_pair__job"))
    assert len(assignments) == 6 and sum(a.is_attention_check for a in assignments) == 2
    for answered, assignment in enumerate(assignments):
        ahead = sequence.ahead(annotator_id=annotator.pk)
        assert (ahead.answered, ahead.total) == (answered, 6)
        assert [u.assignment_id for u in ahead.upcoming] == [a.pk for a in assignments[answered : answered + 2]]
        for upcoming, expected in zip(ahead.upcoming, assignments[answered:], strict=False):
            assert upcoming.order == expected.order and upcoming.prompt == expected.pair.prompt.text
            assert upcoming.images == shown_images(expected)
        stored = sequence.store_answer(
            annotator_id=annotator.pk, assignment_id=assignment.pk, design=design(annotator), scores=both(4, 6)
        )
        assert stored.created
    assert sequence.ahead(annotator_id=annotator.pk).upcoming == []
    assert pair_ratings().count() == 4 and CheckResponse.objects.count() == 2


def test_store_answer_maps_sides_once_and_refuses_another_annotators(annotator):
    check = annotator.assignments.filter(check_pair__isnull=False).first()
    rating = annotator.assignments.filter(check_pair__isnull=True).first()
    results = {}
    for assignment in (check, rating):
        results[assignment.pk] = sequence.store_answer(
            annotator_id=annotator.pk, assignment_id=assignment.pk, design=design(annotator), scores=both(9, 2)
        )
        again = sequence.store_answer(
            annotator_id=annotator.pk, assignment_id=assignment.pk, design=design(annotator), scores=both(1, 1)
        )
        assert results[assignment.pk].created and not again.created and not again.failed_check
    response = CheckResponse.objects.get(assignment=check)
    mismatched, matching = (9, 2) if check.ours_on_left else (2, 9)  # the mismatched image is where "ours" would be
    assert (response.mismatched_score, response.matching_score) == (mismatched, matching)
    assert response.passed == (matching > mismatched) == (not results[check.pk].failed_check)
    assert not results[rating.pk].failed_check
    stored = pair_rating(assignment=rating)
    assert (stored.ours_score, stored.baseline_score) == ((9, 2) if rating.ours_on_left else (2, 9))
    other = Annotator.objects.exclude(pk=annotator.pk).get()
    for assignment_id, who in ((rating.pk, other.pk), (10**20, annotator.pk), (0, annotator.pk)):
        with pytest.raises(Assignment.DoesNotExist):
            sequence.store_answer(
                annotator_id=who, assignment_id=assignment_id, design=design(annotator), scores=both(5, 5)
            )
