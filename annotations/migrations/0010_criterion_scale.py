"""A criterion's scale: 1–5, 1–7 or 1–10 (every criterion so far had 1–10)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotations", "0009_question_is_the_criterions")]

    operations = [
        migrations.AddField(
            model_name="criterion",
            name="scale_points",
            field=models.PositiveSmallIntegerField(
                choices=[(5, "1–5"), (7, "1–7"), (10, "1–10")],
                default=10,
                help_text="Scores from 1 to this.",
                verbose_name="scale",
            ),
        ),
        migrations.AddConstraint(
            model_name="criterion",
            constraint=models.CheckConstraint(
                condition=models.Q(("scale_points__in", (5, 7, 10))), name="criterion_scale_valid"
            ),
        ),
    ]
