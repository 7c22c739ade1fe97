"""The labels now live with the study's design (0004 moved them)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("analysis", "0004_labels_to_the_design")]

    operations = [
        migrations.RemoveField(model_name="analysissettings", name="baseline_label"),
        migrations.RemoveField(model_name="analysissettings", name="ours_label"),
        migrations.RemoveField(model_name="analysissettings", name="question_label"),
    ]
