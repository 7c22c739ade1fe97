"""study_status prints what the monitoring page shows, from the same selector (``live_monitor``)."""

import io

import pytest
from django.core.management import CommandError, call_command

from annotations import services
from annotations.selectors import live_monitor
from tests.analysis.test_exports import rate_all
from tests.factories import make_open_study

pytestmark = pytest.mark.django_db


def status(slug: str) -> list[str]:
    out = io.StringIO()
    call_command("study_status", slug, stdout=out)
    return out.getvalue().splitlines()


def test_study_status_prints_the_monitor():
    study, annotators = make_open_study(slug="watched", prompts=3, annotators=4)
    rate_all(study, annotators[:2], [[(3, 8), (5, 5), (6, 4)], [(5, 5), (5, 5), (5, 5)]])
    services.give_consent(annotator=annotators[2])
    live = live_monitor(study=study)
    seen, quota = live.monitor, live.quota
    lines = status("watched")
    assert lines[0] == "Study 'watched' (Watched): open"
    assert lines[1].startswith(
        f"Annotators: 4 invited, 3 consented, {seen.started} started, {seen.finished} finished, 0 screened out; now "
    )
    assert "1 invited" in lines[1] and "1 consented" in lines[1].split("; now ")[1]
    assert lines[2] == "Ratings: 6 (median seconds per item: –)"
    assert lines[3].startswith(f"Quota: 6 of {quota.target} ratings, {quota.remaining} to go ({quota.rule}); ")
    assert lines[3].endswith(f"ETA: {quota.eta}")
    assert lines[4] == "Failed attention checks: none"
    assert live.straight_liners == [annotators[1].label]
    assert lines[5] == f"Same score for everything: {annotators[1].label}"
    assert lines[6] == f"Speeders (median under {live.speed_threshold:g} s per pair): none"
    assert lines[7].startswith("Position (“ours” left vs right): ")
    assert lines[8] == "Annotators: 4"
    table = lines[10:14]
    for line, annotator in zip(table, live.annotators, strict=True):
        assert line.endswith(f"{annotator.label}: {annotator.state_display}")
        assert line.split()[:3] == [str(annotator.answered), "/", str(annotator.total)]
    assert "same score" in table[1] and "same score" not in table[0]
    assert lines[14] == "Pairs: 3"
    assert lines[15].split() == ["assigned", "ratings", "ours", "left", "ours", "right", "prompt"]
    rows = [line.split(maxsplit=4) for line in lines[16:]]
    assert rows == [
        [str(pair.assigned), str(pair.ratings), str(pair.ours_left), str(pair.ours_right), pair.prompt]
        for pair in seen.pairs
    ]
    assert [row[1] for row in rows] == ["2", "2", "2"]


def test_study_status_names_an_unknown_study():
    with pytest.raises(CommandError, match="There is no study 'nope'"):
        call_command("study_status", "nope")
