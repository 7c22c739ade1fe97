"""Image names become random values drawn when a pair job is made, instead of keyed hashes of job and arm.

Jobs not yet done get their names now. Done jobs keep the names their files are stored under.
"""

import secrets

from django.db import migrations, models

import generation.storage


def draw_missing_names(apps, schema_editor):
    PairJob = apps.get_model("generation", "PairJob")
    for job in PairJob.objects.filter(models.Q(baseline_image="") | models.Q(ours_image="")).only("pk"):
        PairJob.objects.filter(pk=job.pk).update(
            baseline_image=f"img/{secrets.token_hex(16)}.png", ours_image=f"img/{secrets.token_hex(16)}.png"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0003_job_claims_and_training_size"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="pairjob",
            name="pairjob_done_has_images",
        ),
        migrations.AlterField(
            model_name="pairjob",
            name="baseline_image",
            field=models.CharField(
                default=generation.storage.new_image_name, help_text="Storage name, random.", max_length=255
            ),
        ),
        migrations.AlterField(
            model_name="pairjob",
            name="ours_image",
            field=models.CharField(
                default=generation.storage.new_image_name, help_text="Storage name, random.", max_length=255
            ),
        ),
        migrations.RunPython(draw_missing_names, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="pairjob",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("baseline_image", ""), _negated=True),
                    models.Q(("ours_image", ""), _negated=True),
                    models.Q(("baseline_image", models.F("ours_image")), _negated=True),
                ),
                name="pairjob_has_image_names",
            ),
        ),
    ]
