"""A study's conditions (how its images are made, named in results) and criteria (what each image is rated on)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

KEY_VALIDATOR = django.core.validators.RegexValidator(
    "\\A[a-z][a-z0-9_]*\\Z", "A key is a lowercase letter followed by lowercase letters, digits or underscores."
)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0006_pilot_runs")]

    operations = [
        migrations.CreateModel(
            name="Condition",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "key",
                    models.CharField(
                        help_text="What the data files call it.", max_length=40, validators=[KEY_VALIDATOR]
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="What results, figures and tables call it, e.g. SD-2.1 or + entropy scaling.",
                        max_length=60,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("plain", "Plain: the model at the study's size"),
                            ("entropy", "Entropy-scaled attention at the study's size"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "is_reference",
                    models.BooleanField(
                        default=False, help_text="The condition the others are compared with (the baseline)."
                    ),
                ),
                (
                    "study",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conditions",
                        to="annotations.study",
                    ),
                ),
            ],
            options={
                "ordering": ["study_id", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("study", "position"), name="condition_unique_position"),
                    models.UniqueConstraint(fields=("study", "key"), name="condition_unique_key"),
                    models.UniqueConstraint(fields=("study", "name"), name="condition_unique_name"),
                    models.UniqueConstraint(
                        condition=models.Q(("is_reference", True)), fields=("study",), name="condition_one_reference"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["plain", "entropy"])), name="condition_kind_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(models.Q(("key", ""), _negated=True), models.Q(("name", ""), _negated=True)),
                        name="condition_named",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Criterion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "key",
                    models.CharField(
                        help_text="What the data files call it.", max_length=40, validators=[KEY_VALIDATOR]
                    ),
                ),
                (
                    "question",
                    models.CharField(help_text="What annotators are asked, above the images.", max_length=500),
                ),
                (
                    "label",
                    models.CharField(
                        help_text="What figures and tables call the scores, e.g. Image–text consistency.",
                        max_length=120,
                    ),
                ),
                (
                    "low_anchor",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="What the lowest score means, shown under the scale.",
                        max_length=80,
                    ),
                ),
                (
                    "high_anchor",
                    models.CharField(
                        blank=True,
                        default="",
                        help_text="What the highest score means, shown under the scale.",
                        max_length=80,
                    ),
                ),
                (
                    "study",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="criteria", to="annotations.study"
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "criteria",
                "ordering": ["study_id", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("study", "position"), name="criterion_unique_position"),
                    models.UniqueConstraint(fields=("study", "key"), name="criterion_unique_key"),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("key", ""), _negated=True),
                            models.Q(("question", ""), _negated=True),
                            models.Q(("label", ""), _negated=True),
                        ),
                        name="criterion_has_texts",
                    ),
                ],
            },
        ),
    ]
