"""A rating becomes one image's score on one criterion: the pair's two score columns go, and each rating is once per
image and criterion, its score from 1 to 10."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("annotations", "0012_ratings_one_per_image")]

    operations = [
        migrations.RemoveField(model_name="rating", name="baseline_score"),
        migrations.RemoveField(model_name="rating", name="ours_score"),
        migrations.AlterField(
            model_name="rating",
            name="condition",
            field=models.ForeignKey(
                on_delete=models.deletion.PROTECT, related_name="ratings", to="annotations.condition"
            ),
        ),
        migrations.AlterField(
            model_name="rating",
            name="criterion",
            field=models.ForeignKey(
                on_delete=models.deletion.PROTECT, related_name="ratings", to="annotations.criterion"
            ),
        ),
        migrations.AlterField(model_name="rating", name="score", field=models.PositiveSmallIntegerField()),
        migrations.AlterModelOptions(name="rating", options={"ordering": ["assignment", "id"]}),
        migrations.AddConstraint(
            model_name="rating",
            constraint=models.UniqueConstraint(
                fields=("assignment", "condition", "criterion"), name="rating_once_per_image"
            ),
        ),
        migrations.AddConstraint(
            model_name="rating",
            constraint=models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=10),
                name="rating_score_in_range",
                violation_error_message="Scores must be whole numbers from 1 to 10.",
            ),
        ),
    ]
