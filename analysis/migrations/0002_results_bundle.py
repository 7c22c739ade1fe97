import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0001_analysis_settings"),
        ("annotations", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ResultsBundle",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "fingerprint",
                    models.CharField(help_text="What it is built from (analysis.selectors).", max_length=64),
                ),
                ("ratings", models.PositiveIntegerField(help_text="The study's ratings when it was asked for.")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("building", "Building"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("step", models.PositiveIntegerField(default=0, help_text="Steps of the analysis done so far.")),
                (
                    "steps",
                    models.PositiveIntegerField(
                        default=0, help_text="Steps of the analysis in all (0: not known yet)."
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="Storage name of the zip, results/<32 hex>.zip.", max_length=100, unique=True
                    ),
                ),
                (
                    "files",
                    models.JSONField(blank=True, default=list, help_text="[name, bytes] of each file in the zip."),
                ),
                ("size", models.PositiveBigIntegerField(blank=True, help_text="Bytes of the zip.", null=True)),
                ("error", models.TextField(blank=True, default="")),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "study",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="results_bundles",
                        to="annotations.study",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["queued", "building", "done", "failed"])),
                        name="resultsbundle_status_valid",
                    )
                ],
            },
        ),
    ]
