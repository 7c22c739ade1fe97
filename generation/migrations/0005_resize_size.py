"""Pair jobs may generate at the model's training size and store each image resized to another size."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_random_image_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="pairjob",
            name="resize_width",
            field=models.PositiveIntegerField(
                blank=True,
                help_text=(
                    "The job generates at width×height (the model's training size) and stores each image resized to "
                    "this size; empty: stored as generated."
                ),
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="pairjob",
            name="resize_height",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="pairjob",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("resize_height__isnull", True), ("resize_width__isnull", True)),
                    models.Q(
                        ("resize_height__isnull", False),
                        ("resize_width__isnull", False),
                        ("resize_height__gte", 8),
                        ("resize_height__lte", 4096),
                        ("resize_width__gte", 8),
                        ("resize_width__lte", 4096),
                    ),
                    _connector="OR",
                ),
                name="pairjob_resize_size_valid",
                violation_error_message=(
                    "The resize width and height must both be given, between 8 and 4096 pixels, or both be empty."
                ),
            ),
        ),
    ]
