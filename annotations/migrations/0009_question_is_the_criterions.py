"""The question annotators are asked is now the study's criterion's (0008 copied it there)."""

from django.db import migrations


def question_back_to_the_study(apps, schema_editor):
    Study = apps.get_model("annotations", "Study")
    Criterion = apps.get_model("annotations", "Criterion")
    for criterion in Criterion.objects.filter(position=0).only("study_id", "question"):
        Study.objects.filter(pk=criterion.study_id).update(question=criterion.question)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0008_seed_design_of_each_study")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, question_back_to_the_study),
        migrations.RemoveField(model_name="study", name="question"),
    ]
