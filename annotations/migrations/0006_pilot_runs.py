"""Pilot runs: annotators flagged as pilots, and each study's pilot link token (one of its own for every study)."""

from django.db import migrations, models

import annotations.models


def give_each_study_a_pilot_token(apps, schema_editor):
    Study = apps.get_model("annotations", "Study")
    for study in Study.objects.filter(pilot_token__isnull=True).only("pk"):
        study.pilot_token = annotations.models.new_token()
        study.save(update_fields=["pilot_token"])


class Migration(migrations.Migration):
    dependencies = [("annotations", "0005_researcher_group")]

    operations = [
        migrations.AddField(
            model_name="annotator",
            name="is_pilot",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text=(
                    "A pilot run (Preview as annotator, or the pilot link): counted in no quota, progress or analysis."
                ),
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="pilot_token",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(give_each_study_a_pilot_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="study",
            name="pilot_token",
            field=models.CharField(default=annotations.models.new_token, editable=False, max_length=64, unique=True),
        ),
    ]
