"""Builders of test data through the project's own services."""

from dataclasses import dataclass

from PIL import Image

from annotations import services
from annotations.models import Annotator, Rating, Study
from annotations.selectors import ONE_PER_PAIR
from generation.models import DiffusionModel, PairJob
from generation.storage import encode_png, write_atomic

PROMPTS = [
    "A red bicycle leaning against a brick wall",
    "Two cats sleeping on a blue sofa",
    "A lighthouse on a rocky coast at sunset",
    "A bowl of fresh strawberries on a wooden table",
    "An astronaut riding a horse in the desert",
    "A snowy mountain village at night",
]


def make_model(source: str = "unused", **fields) -> DiffusionModel:
    """A registry entry for ``source``, saved without reading the model's files (a tiny SD at 64 px by default)."""
    defaults = {"name": source, "family": "sd", "train_width": 64, "train_height": 64}
    model, _ = DiffusionModel.objects.get_or_create(source=source, defaults={**defaults, **fields})
    return model


def make_study(*, slug: str = "study", prompts: int = 3, model: str | None = "unused", **fields) -> Study:
    """A draft study with the first ``prompts`` test prompts; ``model`` is a source, "" or None for none."""
    defaults = {"width": 64, "height": 64, "steps": 2}
    return services.create_study(
        slug=slug,
        title=slug.title(),
        prompts=PROMPTS[:prompts],
        model=make_model(model) if model else None,
        **{**defaults, **fields},
    )


def name_design(study: Study, *, baseline: str = "", ours: str = "", score: str = "") -> None:
    """Name the study's conditions and its criterion in results (an empty text keeps the name it has)."""
    for key, name in (("baseline", baseline), ("ours", ours)):
        if name:
            study.conditions.filter(key=key).update(name=name)
    if score:
        study.criteria.update(label=score)


def fake_generate(job: PairJob) -> PairJob:
    """Mark a job done with two solid-colour images (baseline dark, ours light; a resizing job's both mid-grey, at
    the size it resizes to) in real storage, under its names."""
    size = (job.resize_width or job.width, job.resize_height or job.height)
    shades = (128, 128) if job.resize_width else (40, 215)
    for name, shade in zip((job.baseline_image, job.ours_image), shades, strict=True):
        write_atomic(name, encode_png(Image.new("RGB", size, (shade, shade, shade))))
    PairJob.objects.filter(pk=job.pk).update(status=PairJob.Status.DONE)
    job.refresh_from_db()
    return job


def make_open_study(
    *, slug: str = "study", prompts: int = 3, annotators: int = 2, **fields
) -> tuple[Study, list[Annotator]]:
    """A study whose pairs are 'generated' with solid colours and which is open to ``annotators`` people."""
    study = make_study(slug=slug, prompts=prompts, **fields)
    services.queue_study_generation(study=study)
    for pair in study.pairs.select_related("job"):
        fake_generate(pair.job)
    study = services.open_study(study=study)
    return study, services.create_annotators(study=study, count=annotators)


def make_conditions_study(
    *,
    slug: str = "conditions",
    prompts: int = 3,
    annotators: int = 2,
    preset: str = "resized",
    imported: tuple[str, ...] = ("other",),
    open_it: bool = True,
    **fields,
) -> tuple[Study, list[Annotator]]:
    """A study of more than the seed's two conditions (``preset``'s, then an imported one per key of ``imported``),
    at 128 px from a model trained at 64, 'generated' with solid colours and each imported image a solid colour of
    its own (shade 60 + 40 × its index), then opened to ``annotators`` people (unless ``open_it`` is false)."""
    from annotations.models import Condition, ConditionImage
    from annotations.services import design

    study = make_study(slug=slug, prompts=prompts, design_preset=preset, **{"width": 128, "height": 128, **fields})
    for index, key in enumerate(imported):
        condition = design.add_condition(
            condition=Condition(study=study, key=key, name=key.title(), kind=Condition.Kind.IMPORTED)
        )
        for prompt in study.prompts.all():
            image = ConditionImage.objects.create(prompt=prompt, condition=condition)
            shade = 60 + 40 * index
            write_atomic(image.name, encode_png(Image.new("RGB", (study.width, study.height), (shade, 0, 0))))
    services.queue_study_generation(study=study)
    jobs = {pair.job for pair in study.pairs.select_related("job")}
    jobs |= {image.job for image in ConditionImage.objects.filter(prompt__study=study, job__isnull=False)}
    for job in jobs:
        fake_generate(job)
    if not open_it:
        return services.refresh_study_status(study_id=study.pk), []
    study = services.open_study(study=study)
    return study, services.create_annotators(study=study, count=annotators)


def laid_out_images(assignment) -> dict[str, str]:
    """The storage names an assignment of a screen of every condition's image should show, by place ("1" to K): each
    place the image of the condition its layout puts there; on an attention check the other prompt's image of that
    condition in the check's place."""
    from annotations.models import ConditionImage

    def image(pair, condition) -> str:
        if condition.kind == "plain":
            return pair.job.baseline_image
        if condition.kind == "entropy":
            return pair.job.ours_image
        return ConditionImage.objects.get(prompt=pair.prompt, condition=condition).name

    conditions = list(assignment.pair.study.conditions.all())
    names = {}
    for index, digit in enumerate(assignment.layout):
        pair = assignment.check_pair if index == assignment.check_slot else assignment.pair
        names[str(index + 1)] = image(pair, conditions[int(digit)])
    return names


def shown_images(assignment) -> dict[str, str]:
    """The storage names an assignment should show, by side: a rating its two arms, "ours" on the left when
    ``ours_on_left``; an attention check its pair's image of ``check_arm`` and, where "ours" would be, another
    prompt's image of ``check_other_arm``."""
    job = assignment.pair.job
    if assignment.is_attention_check:
        own = getattr(job, f"{assignment.check_arm}_image")
        other = getattr(assignment.check_pair.job, f"{assignment.check_other_arm}_image")
    else:
        own, other = job.baseline_image, job.ours_image
    return {"left": other, "right": own} if assignment.ours_on_left else {"left": own, "right": other}


def image_link(annotator: Annotator, order: int, side: str) -> str:
    """The URL the rating page gives ``annotator`` for the image on ``side`` of its pair at ``order``."""
    from annotations.image_views import image_url_maker

    assignment = annotator.assignments.select_related("pair__job", "check_pair__job").get(order=order)
    return image_url_maker(annotator.token)(order, side, shown_images(assignment)[side])


def make_researchers(*usernames: str) -> list:
    """Staff users in the "Researcher" group the migrations ship, one per name."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    researchers = Group.objects.get(name="Researcher")
    users = [get_user_model().objects.create_user(name, password="not-used-here", is_staff=True) for name in usernames]
    for user in users:
        user.groups.add(researchers)
    return users


def pair_ratings():
    """One rating per rated pair (``selectors.ONE_PER_PAIR``): what counts of answered pairs count."""
    return Rating.objects.filter(ONE_PER_PAIR)


@dataclass(frozen=True)
class PairScores:
    """A rated pair's scores on the study's first criterion, by condition, and its seconds."""

    baseline_score: int
    ours_score: int
    seconds: float | None
    assignment: object


def pair_rating(**filters) -> PairScores:
    """The scores of the one rated pair whose ratings match ``filters`` (as ``Rating.objects.get`` takes them)."""
    (assignment_id,) = set(pair_ratings().filter(**filters).values_list("assignment_id", flat=True))
    rows = Rating.objects.filter(assignment_id=assignment_id, criterion__position=0).select_related("assignment")
    scores = {rating.condition.position: rating for rating in rows.select_related("condition")}
    return PairScores(scores[0].score, scores[1].score, scores[0].seconds, scores[0].assignment)
