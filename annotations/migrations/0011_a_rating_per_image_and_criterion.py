"""A rating becomes one image's score on one criterion, in three steps (each its own transaction: PostgreSQL alters
no table with rows changed in the same transaction): the new columns, the ratings moved (0012), the old columns gone
and the rules set (0013)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotations", "0010_criterion_scale")]

    operations = [
        migrations.RemoveConstraint(model_name="rating", name="rating_scores_in_range"),
        migrations.AlterField(
            model_name="rating", name="baseline_score", field=models.PositiveSmallIntegerField(null=True)
        ),
        migrations.AlterField(
            model_name="rating", name="ours_score", field=models.PositiveSmallIntegerField(null=True)
        ),
        migrations.AlterField(
            model_name="rating",
            name="assignment",
            field=models.ForeignKey(
                on_delete=models.deletion.CASCADE, related_name="ratings", to="annotations.assignment"
            ),
        ),
        migrations.AddField(
            model_name="rating",
            name="condition",
            field=models.ForeignKey(
                null=True, on_delete=models.deletion.PROTECT, related_name="ratings", to="annotations.condition"
            ),
        ),
        migrations.AddField(
            model_name="rating",
            name="criterion",
            field=models.ForeignKey(
                null=True, on_delete=models.deletion.PROTECT, related_name="ratings", to="annotations.criterion"
            ),
        ),
        migrations.AddField(model_name="rating", name="score", field=models.PositiveSmallIntegerField(null=True)),
    ]
