"""study_status prints what the monitoring page shows, from the same selector."""

import io

import pytest
from django.core.management import CommandError, call_command

from annotations import services
from annotations.selectors import monitor
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


def status(slug: str) -> list[str]:
    out = io.StringIO()
    call_command("study_status", slug, stdout=out)
    return out.getvalue().splitlines()


def test_study_status_prints_the_monitor(django_user_model):
    study, annotators = make_open_study(slug="watched", prompts=3, annotators=3)
    rate_all(study, annotators[:2], [[(3, 8), (5, 5), (6, 4)], [(5, 5), (5, 5), (5, 5)]])
    services.give_consent(annotator=annotators[2])
    seen = monitor(study=study)
    lines = status("watched")
    assert lines[:6] == [
        "Study 'watched' (Watched): open",
        f"Annotators: 3 invited, 3 consented, {seen.started} started, {seen.finished} finished, 0 screened out",
        f"Ratings: 6 (median seconds per item: {'–' if seen.median_seconds is None else f'{seen.median_seconds:.1f}'})",
        "Failed attention checks: none",
        f"Same score for everything: {annotators[1].label}",
        "Pairs: 3",
    ]
    assert lines[6].split() == ["assigned", "ratings", "ours", "left", "ours", "right", "prompt"]
    rows = [line.split(maxsplit=4) for line in lines[7:]]
    assert rows == [
        [str(pair.assigned), str(pair.ratings), str(pair.ours_left), str(pair.ours_right), pair.prompt]
        for pair in seen.pairs
    ]
    assert [row[1] for row in rows] == ["2", "2", "2"]


def test_study_status_names_an_unknown_study():
    with pytest.raises(CommandError, match="There is no study 'nope'"):
        call_command("study_status", "nope")
