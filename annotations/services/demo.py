"""The demo study that ``make run`` sets up: 50 captions, generated with the configured model."""

from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from generation.models import DiffusionModel, Scheduler

from ..models import Annotator, Study
from .enrolment import create_annotators
from .studies import create_study, queue_study_generation

DEMO_SLUG = "demo"
DEMO_PROMPTS = Path(__file__).resolve().parents[1] / "data" / "demo_prompts.txt"
DEMO_ANNOTATORS = 5


@dataclass(frozen=True)
class DemoResult:
    study: Study
    created: bool
    queued: int
    annotators: list[Annotator]


def _field_errors(study: Study, fields: set[str]) -> list[str]:
    """The messages of the study's field and constraint checks that concern only ``fields``."""
    exclude = {field.name for field in Study._meta.fields} - fields
    messages: list[str] = []
    for check in (study.clean_fields, study.validate_constraints):
        try:
            check(exclude=exclude)
        except ValidationError as exc:
            messages += exc.messages
    return list(dict.fromkeys(messages))


def check_demo_options(*, size: int, steps: int) -> None:
    """Refuse an image size or step count the demo study could not have, naming the option (``--size``,
    ``--steps``), by the study's own rules; it writes nothing, so ``seed_demo`` runs it before any write."""
    study = Study(slug=DEMO_SLUG, title=DEMO_SLUG, width=size, height=size, steps=steps)
    problems = []
    for option, value, fields in (("--size", size, {"width", "height"}), ("--steps", steps, {"steps"})):
        if messages := _field_errors(study, fields):
            problems.append(f"{option} {value}: {' '.join(messages)}")
    if problems:
        raise ValidationError(problems)


def demo_prompts() -> list[str]:
    return [line for line in DEMO_PROMPTS.read_text(encoding="utf-8").splitlines() if line.strip()]


def ensure_demo_study(*, model: DiffusionModel, width: int, height: int, steps: int) -> DemoResult:
    """Create the demo study once, queue whatever of it is not generated, and return its invite links."""
    with transaction.atomic():
        study = Study.objects.filter(slug=DEMO_SLUG).first()
        created = study is None
        if created:
            study = create_study(
                slug=DEMO_SLUG,
                title="Demo: image-text consistency",
                prompts=demo_prompts(),
                model=model,
                width=width,
                height=height,
                steps=steps,
                guidance_scale=7.5,
                scheduler=Scheduler.DDIM,
                base_seed=0,
                open_when_ready=True,
            )
            create_annotators(study=study, count=DEMO_ANNOTATORS)
        queued = 0
        if study.status in (Study.Status.DRAFT, Study.Status.GENERATING):
            queued = queue_study_generation(study=study)
    study.refresh_from_db()
    annotators = list(study.annotators.order_by("pk")[:DEMO_ANNOTATORS])
    return DemoResult(study=study, created=created, queued=queued, annotators=annotators)
