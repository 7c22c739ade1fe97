"""The labels a study's results gave its two conditions and its score become the names of its conditions and
criterion (annotations 0008 made them); an empty label keeps the default name."""

from django.db import migrations

#: label field → (model, key, field) of the design that now holds it.
MOVES = {
    "baseline_label": ("Condition", "baseline", "name"),
    "ours_label": ("Condition", "ours", "name"),
    "question_label": ("Criterion", "consistency", "label"),
}
DEFAULTS = {"baseline_label": "Baseline", "ours_label": "Ours", "question_label": "Score"}


def labels_to_names(apps, schema_editor):
    AnalysisSettings = apps.get_model("analysis", "AnalysisSettings")
    for settings in AnalysisSettings.objects.all():
        for field, (model, key, target) in MOVES.items():
            text = " ".join(getattr(settings, field).split())
            if text:
                apps.get_model("annotations", model).objects.filter(study_id=settings.study_id, key=key).update(
                    **{target: text}
                )


def names_to_labels(apps, schema_editor):
    AnalysisSettings = apps.get_model("analysis", "AnalysisSettings")
    for settings in AnalysisSettings.objects.all():
        for field, (model, key, target) in MOVES.items():
            name = (
                apps.get_model("annotations", model)
                .objects.filter(study_id=settings.study_id, key=key)
                .values_list(target, flat=True)
                .first()
            )
            setattr(settings, field, "" if name in (None, DEFAULTS[field]) else name)
        settings.save(update_fields=list(MOVES))


class Migration(migrations.Migration):
    dependencies = [("analysis", "0003_labels"), ("annotations", "0008_seed_design_of_each_study")]

    operations = [migrations.RunPython(labels_to_names, names_to_labels)]
