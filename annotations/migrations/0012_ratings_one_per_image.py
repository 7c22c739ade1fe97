"""A rating becomes one image's score on one criterion: each stored pair rating (a baseline and an ours score)
becomes two, one for each of the study's first two conditions, on its first criterion, keeping its seconds and time;
and goes back."""

from django.db import migrations


def one_per_image(apps, schema_editor):
    Rating = apps.get_model("annotations", "Rating")
    Condition = apps.get_model("annotations", "Condition")
    Criterion = apps.get_model("annotations", "Criterion")
    conditions: dict[int, dict[int, int]] = {}
    for study_id, position, pk in Condition.objects.values_list("study_id", "position", "pk"):
        conditions.setdefault(study_id, {})[position] = pk
    criteria = dict(Criterion.objects.filter(position=0).values_list("study_id", "pk"))
    ratings = Rating.objects.select_related("assignment__annotator").order_by("pk")
    for rating in ratings.iterator(chunk_size=2000):
        study_id = rating.assignment.annotator.study_id
        ours = Rating.objects.create(
            assignment_id=rating.assignment_id,
            condition_id=conditions[study_id][1],
            criterion_id=criteria[study_id],
            score=rating.ours_score,
            seconds=rating.seconds,
        )
        Rating.objects.filter(pk=ours.pk).update(created_at=rating.created_at)  # auto_now_add set it to now
        rating.condition_id = conditions[study_id][0]
        rating.criterion_id = criteria[study_id]
        rating.score = rating.baseline_score
        rating.save(update_fields=["condition", "criterion", "score"])


def one_per_pair(apps, schema_editor):
    """Each pair's baseline rating on the first criterion takes its ours twin's score; every other rating goes."""
    Rating = apps.get_model("annotations", "Rating")
    ours = dict(
        Rating.objects.filter(condition__position=1, criterion__position=0).values_list("assignment_id", "score")
    )
    kept = Rating.objects.filter(condition__position=0, criterion__position=0)
    for rating in kept.iterator(chunk_size=2000):
        rating.baseline_score = rating.score
        rating.ours_score = ours[rating.assignment_id]
        rating.save(update_fields=["baseline_score", "ours_score"])
    Rating.objects.exclude(pk__in=kept.values("pk")).delete()


class Migration(migrations.Migration):
    dependencies = [("annotations", "0011_a_rating_per_image_and_criterion")]

    operations = [migrations.RunPython(one_per_image, one_per_pair)]
