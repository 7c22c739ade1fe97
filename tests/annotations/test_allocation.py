"""Allocation: quotas, even spread, balanced sides, attention checks, and safety under concurrent joins."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from annotations import services
from annotations.models import Annotator, Assignment, Study
from annotations.selectors import assigned_sides
from annotations.services.attention_checks import balanced_sides
from annotations.services.enrolment import StudyFull, enrol
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


def test_balanced_sides_is_exactly_half_for_even_counts():
    for seed in range(20):
        sides = balanced_sides(8, random.Random(seed))
        assert len(sides) == 8 and sum(sides) == 4
    assert sum(balanced_sides(7, random.Random(1))) in (3, 4)


def test_quotas_spread_pairs_evenly_and_refuse_when_full():
    study, annotators = make_open_study(slug="q", prompts=6, annotators=5, pairs_per_annotator=3, ratings_per_pair=2)
    for annotator in annotators[:4]:
        services.give_consent(annotator=annotator)
        mine = annotator.assignments.all()
        assert mine.count() == 3 and len({a.pair_id for a in mine}) == 3
        assert sum(a.ours_on_left for a in mine) in (1, 2)
    per_pair = Counter(Assignment.objects.values_list("pair_id", flat=True))
    assert sorted(per_pair.values()) == [2] * 6
    with pytest.raises(StudyFull, match="is full"):
        services.give_consent(annotator=annotators[4])
    late = Annotator.objects.get(pk=annotators[4].pk)
    assert late.consented_at is None and not late.assignments.exists()


def test_sides_balance_across_annotators_for_every_pair():
    study, annotators = make_open_study(slug="b", prompts=6, annotators=8)
    for annotator in annotators:
        services.give_consent(annotator=annotator)
        assert annotator.assignments.filter(ours_on_left=True).count() == 3
    for total, left in assigned_sides(study).values():
        assert total == 8 and abs(left - (total - left)) <= 2


def test_every_annotator_gets_its_own_random_order():
    study, annotators = make_open_study(slug="o", prompts=6, annotators=6)
    orders = set()
    for annotator in annotators:
        services.give_consent(annotator=annotator)
        orders.add(tuple(annotator.assignments.order_by("order").values_list("pair_id", flat=True)))
    assert len(orders) > 1


def test_attention_checks_are_added_and_mixed_in():
    study, (annotator, _) = make_open_study(slug="c", prompts=4, attention_checks=2)
    services.give_consent(annotator=annotator)
    checks = list(annotator.assignments.filter(check_pair__isnull=False))
    assert annotator.assignments.count() == 6 and len(checks) == 2
    assert all(check.check_pair_id != check.pair_id for check in checks)
    assert sum(check.ours_on_left for check in checks) == 1
    assert sorted(annotator.assignments.values_list("order", flat=True)) == list(range(6))


def test_enrolment_cap_and_returning_participants():
    study, _ = make_open_study(slug="e", prompts=2, annotators=1, enrolment_open=True, enrolment_cap=2)
    attempt = {"PROLIFIC_PID": "P1", "STUDY_ID": "S1", "SESSION_ID": "X1"}
    first = enrol(study=study, source="prolific", external_id="P1", entry=attempt)
    assert enrol(study=study, source="prolific", external_id="P1", entry=attempt) == first
    enrol(study=study, source="open")
    with pytest.raises(StudyFull, match="all the participants"):
        enrol(study=study, source="open")
    assert enrol(study=study, source="prolific", external_id="P1", entry=attempt) == first  # returning resumes
    Study.objects.filter(pk=study.pk).update(enrolment_open=False)
    with pytest.raises(Exception, match="not taking new participants"):
        enrol(study=Study.objects.get(pk=study.pk), source="prolific", external_id="P9")


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_never_exceed_a_quota_or_share_a_slot():
    """Eight annotators consent at the same moment; four slots of two pairs each exist."""
    study, annotators = make_open_study(slug="race", prompts=4, annotators=8, pairs_per_annotator=2, ratings_per_pair=2)
    barrier = threading.Barrier(len(annotators))
    outcomes: dict[int, str] = {}

    def join(annotator):
        try:
            barrier.wait(timeout=30)
            services.give_consent(annotator=annotator)
            outcomes[annotator.pk] = "in"
        except StudyFull:
            outcomes[annotator.pk] = "full"
        finally:
            connection.close()

    threads = [threading.Thread(target=join, args=(annotator,)) for annotator in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["full"] * 4 + ["in"] * 4
    per_pair = Counter(Assignment.objects.values_list("pair_id", flat=True))
    assert sorted(per_pair.values()) == [2, 2, 2, 2]
    assert Assignment.objects.values("annotator", "pair").distinct().count() == Assignment.objects.count()
    for annotator in Annotator.objects.all():
        assert annotator.assignments.count() == (2 if outcomes[annotator.pk] == "in" else 0)
