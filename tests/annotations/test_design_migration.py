"""Existing studies become studies of two conditions and one criterion, losing nothing (annotations 0007–0009,
analysis 0004–0005), and go back as they were."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analysis.selectors import ratings_frame, study_labels
from annotations.models import Study

BEFORE = [("annotations", "0006_pilot_runs"), ("analysis", "0003_labels")]
LABELS = {"baseline_label": "SD-2.1", "ours_label": "+ entropy scaling", "question_label": "Image–text consistency"}


def migrate(targets) -> object:
    """Migrate to ``targets``; the apps of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def old_studies(apps) -> None:
    """Two studies as they were before conditions and criteria: one with its own question, labels and a rating,
    one with the defaults and none."""
    Study = apps.get_model("annotations", "Study")
    labelled = Study.objects.create(slug="labelled", title="Labelled", question="Which image fits the text?")
    Study.objects.create(slug="plain", title="Plain")
    apps.get_model("analysis", "AnalysisSettings").objects.create(study=labelled, seed=3, **LABELS)
    prompt = apps.get_model("annotations", "Prompt").objects.create(study=labelled, position=0, text="A red bicycle")
    pair = apps.get_model("annotations", "ImagePair").objects.create(study=labelled, prompt=prompt)
    annotator = apps.get_model("annotations", "Annotator").objects.create(study=labelled, external_id="p1")
    assignment = apps.get_model("annotations", "Assignment").objects.create(
        annotator=annotator, pair=pair, order=0, ours_on_left=True
    )
    apps.get_model("annotations", "Rating").objects.create(
        assignment=assignment, baseline_score=3, ours_score=8, seconds=4.5
    )


@pytest.mark.django_db(transaction=True)
def test_each_study_gets_two_conditions_and_its_question_as_its_criterion_and_goes_back():
    try:
        old_studies(migrate(BEFORE))
        migrate(latest())

        labelled, plain = Study.objects.get(slug="labelled"), Study.objects.get(slug="plain")
        conditions = list(labelled.conditions.values_list("position", "key", "name", "kind", "is_reference"))
        assert conditions == [
            (0, "baseline", "SD-2.1", "plain", True),
            (1, "ours", "+ entropy scaling", "entropy", False),
        ]
        assert list(plain.conditions.values_list("key", "name", "is_reference")) == [
            ("baseline", "Baseline", True),
            ("ours", "Ours", False),
        ]
        (criterion,) = labelled.criteria.all()
        assert (criterion.key, criterion.question, criterion.label) == (
            "consistency",
            "Which image fits the text?",
            "Image–text consistency",
        )
        assert (criterion.low_anchor, criterion.high_anchor) == ("does not match", "matches exactly")
        default = plain.criteria.get()
        assert default.question == "Please rate your preference on image-text consistency from 1 to 10"
        assert default.label == "Score"

        labels = study_labels(labelled)
        assert (labels.baseline, labels.ours, labels.question) == (
            "SD-2.1",
            "+ entropy scaling",
            "Image–text consistency",
        )
        frame = ratings_frame(study=labelled)
        assert sorted(zip(frame["condition"], frame["score"], strict=True)) == [("baseline", 3), ("ours", 8)]
        assert labelled.analysis_settings.seed == 3

        back = migrate(BEFORE)
        OldStudy = back.get_model("annotations", "Study")
        assert OldStudy.objects.get(slug="labelled").question == "Which image fits the text?"
        settings = back.get_model("analysis", "AnalysisSettings").objects.get(study__slug="labelled")
        assert {name: getattr(settings, name) for name in LABELS} == LABELS
        assert back.get_model("annotations", "Rating").objects.get().ours_score == 8
    finally:
        migrate(latest())
