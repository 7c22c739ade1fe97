"""Row locks on the annotator path take the annotator's row only: the study's row is what every consent waits on
(``enrolment.allocate``), so a service that locks an annotator must not hold its study's row as well (PostgreSQL
locks every table of a ``SELECT ... FOR UPDATE`` with a join unless told ``OF``)."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from annotations import services
from annotations.models import Study
from annotations.services import ratings
from tests.factories import make_open_study

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's (SQLite locks the file)"),
]


def study_row_free(study_id: int) -> bool:
    """Whether another connection can lock the study's row at once (it is not held)."""
    outcome = {}

    def lock() -> None:
        try:
            with transaction.atomic():
                Study.objects.select_for_update(nowait=True).get(pk=study_id)
            outcome["free"] = True
        except DatabaseError:
            outcome["free"] = False
        finally:
            connection.close()

    thread = threading.Thread(target=lock)
    thread.start()
    thread.join(timeout=30)
    return outcome["free"]


@pytest.mark.parametrize("service", [ratings.finish_if_complete, ratings.screen_out_if_failed])
def test_locking_an_annotator_leaves_its_study_free(service):
    study, (annotator, _) = make_open_study(prompts=3)
    services.give_consent(annotator=annotator)
    with transaction.atomic():
        service(annotator_id=annotator.pk)  # holds the annotator's row until this block ends
        assert study_row_free(study.pk)
    with transaction.atomic():
        Study.objects.select_for_update().get(pk=study.pk)
        assert not study_row_free(study.pk)  # the check itself sees a held row
