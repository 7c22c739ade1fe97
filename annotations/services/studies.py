"""Studies: creating one, checking its settings, generating its pairs, opening and closing it."""

from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from evalsite.text_rules import describe_bad_characters
from generation.models import PairJob, family_setting_errors
from generation.services import create_pair_job, queue_pair_jobs
from generation.validation import full_clean_named

from .. import access, selectors
from ..models import DEFAULT_QUESTION, Condition, ConditionImage, ImagePair, Prompt, Study
from ..prompt_files import PromptLine, check_prompts
from .design import add_seed_design


def clean_prompts(texts: Sequence[str]) -> list[str]:
    """Normalise prompts and refuse empty, over-long or duplicate ones, naming each by its 1-based line."""
    return check_prompts(PromptLine(line, text) for line, text in enumerate(texts, start=1))


@transaction.atomic
def create_study(
    *,
    slug: str,
    title: str,
    prompts: Sequence[str],
    question: str = DEFAULT_QUESTION,
    design_preset: str = "seed",
    **settings,
) -> Study:
    """Create a draft study with its prompts and the design of ``design_preset`` (``design.add_seed_design``: the
    seed's by default), its first criterion asking ``question``; nothing is written if any field, setting
    (``check_study_settings``), the question, the preset or a prompt is bad."""
    texts = clean_prompts(prompts)
    study = Study(slug=slug, title=title, **settings)
    if content := _content_errors(study, None):  # before the field checks, whose "Enter a valid URL." says less
        raise ValidationError(content)
    full_clean_named(study)
    check_study_settings(study=study)
    study.save()
    add_seed_design(study=study, question=question, preset=design_preset)
    Prompt.objects.bulk_create(Prompt(study=study, position=position, text=text) for position, text in enumerate(texts))
    return study


#: Settings that make the images: fixed once the study's pairs are generated.
GENERATION_SETTINGS = (
    "model",
    "width",
    "height",
    "steps",
    "guidance_scale",
    "scheduler",
    "negative_prompt",
    "base_seed",
)
#: Settings that shape each annotator's sequence: fixed once an annotator has started.
ALLOCATION_SETTINGS = ("pairs_per_annotator", "ratings_per_pair", "attention_checks")
#: What annotators read, which the protocol reports: fixed once an annotator has consented (the protocol must report
#: the text they saw). The criteria's question and anchors are fixed the same way (``design.check_criterion``).
SEEN_SETTINGS = ("instructions", "consent_text", "allow_ties")
#: The slug, which names the study in its ratings' exports: fixed once an annotator has consented.
NAME_SETTINGS = ("slug",)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _generation_lock_reason(study: Study) -> str:
    status = study.get_status_display().lower()
    if study.status == Study.Status.GENERATING:
        return "its pairs are being generated with them"
    generated = study.pairs.filter(job__isnull=False).count()
    if generated:
        return f"its {_plural(generated, 'pair')} were generated with them (the study is {status})"
    return f"the study is {status}, no longer a draft"


def check_settings_change(*, study: Study, changed: Sequence[str]) -> None:
    """Refuse changing what made the study's images, what shaped its annotators' sequences, or what its annotators
    read, once in use; the error names each locked setting and the actual reason it is locked."""
    _refuse_locked_changes(Study.objects.get(pk=study.pk), changed)


def _refuse_locked_changes(stored: Study, changed: Sequence[str]) -> None:
    """``check_settings_change`` on the study as stored."""
    reasons = []

    def names(group: Sequence[str]) -> str:
        return ", ".join(str(Study._meta.get_field(name).verbose_name) for name in changed if name in group)

    if stored.status != Study.Status.DRAFT and (locked := names(GENERATION_SETTINGS)):
        reasons.append(f"its {locked} can no longer change: {_generation_lock_reason(stored)}")
    consented = selectors.consented_count(study_id=stored.pk)  # a pilot locks nothing
    who = f"{_plural(consented, 'annotator')} {'has' if consented == 1 else 'have'} consented"
    if consented and (locked := names(ALLOCATION_SETTINGS)):
        reasons.append(f"its {locked} can no longer change: {who} and got a sequence of pairs laid out with them")
    if consented and (locked := names(SEEN_SETTINGS)):
        reasons.append(
            f"its {locked} can no longer change: {who} after reading them, and the protocol must report what "
            "annotators saw"
        )
    if consented and (locked := names(NAME_SETTINGS)):
        reasons.append(f"its {locked} can no longer change: {who}, and the exports of its ratings name the study by it")
    if reasons:
        raise ValidationError(f"Study {stored.slug!r}: {'; '.join(reasons)}. Create a new study for other settings.")


def check_generates(*, study: Study) -> None:
    """Refuse a model (and so generation) for a study holding imported pairs (pairs without a generation job: items
    of ratings imported from elsewhere), which have no images to make."""
    imported = study.pairs.filter(job__isnull=True).count()
    if imported:
        raise ValidationError(
            f"Study {study.slug!r} holds {_plural(imported, 'imported pair')} (ratings imported without images, "
            "from import_ratings): it cannot generate images or take a model. Create a new study to generate."
        )


#: An attention check shows a prompt's image beside an image of another prompt.
MIN_PAIRS_FOR_ATTENTION_CHECKS = 2


def check_attention_checks(*, study: Study, pairs: int, attention_checks: int | None = None) -> None:
    """Refuse attention checks in a study of fewer than two pairs (prompts), naming the field.

    ``attention_checks``: the value to check, when it is not the study's stored one (a form's).
    """
    checks = study.attention_checks if attention_checks is None else attention_checks
    if checks and pairs < MIN_PAIRS_FOR_ATTENTION_CHECKS:
        raise ValidationError(
            {
                "attention_checks": (
                    f"Study {study.slug!r} has {_plural(pairs, 'pair')}, too few for attention checks "
                    f"({checks}): a check shows an image of another prompt, so it needs at least "
                    f"{MIN_PAIRS_FOR_ATTENTION_CHECKS} pairs. Add prompts or set attention checks to 0."
                )
            }
        )


#: The settings that a model family's pipeline may be unable to take (``generation.models.family_setting_errors``).
FAMILY_SETTINGS = ("model", "width", "height", "scheduler", "negative_prompt")


def _family_errors(study: Study) -> dict[str, str]:
    """What the study's model family cannot generate with, as a message per field led by the model's name."""
    model = study.model
    if model is None:
        return {}
    errors = family_setting_errors(
        family=model.family,
        width=study.width,
        height=study.height,
        scheduler=study.scheduler or "",
        negative_prompt=study.negative_prompt or "",
    )
    return {field: f"{model.name}: {message}" for field, message in errors.items()}


#: The study's texts, each with whether it may hold several lines (``evalsite.text_rules``): what annotators read,
#: the title staff pages show, the code finishers are given, and the texts that go to the model.
TEXT_SETTINGS = {
    "title": False,
    "consent_text": True,
    "instructions": True,
    "example_prompt": False,
    "negative_prompt": True,
    "completion_code": False,
}
#: Hosts a completion URL may name over plain http, and then only with DEBUG on (local development).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _content_errors(study: Study, changed: Collection[str] | None) -> dict[str, str]:
    """The refused characters of the study's texts and a refused completion URL, as a message per field; only those
    in ``changed`` unless it is None."""
    errors = {}
    for name in TEXT_SETTINGS if changed is None else [name for name in TEXT_SETTINGS if name in changed]:
        value = getattr(study, name, None)
        if not value:
            continue
        label = str(Study._meta.get_field(name).verbose_name)
        if problem := describe_bad_characters(value, multiline=TEXT_SETTINGS[name], of=f"the {label}"):
            errors[name] = f"{label[0].upper()}{label[1:]}: {problem}."
    if changed is None or "completion_url" in changed:
        if message := completion_url_error(getattr(study, "completion_url", None) or ""):
            errors["completion_url"] = message
    return errors


def completion_url_error(url: str) -> str | None:
    """Why ``url`` cannot be a study's completion URL, or None: only https (plain http to this machine while DEBUG
    is on), since annotators are sent there with their completion code; javascript:, data: and the rest are
    refused."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"The completion URL {url!r} is not a URL such as https://app.prolific.com/submissions/complete."
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return None
    local = scheme == "http" and host in LOCAL_HOSTS
    if local and django_settings.DEBUG:
        return None
    if local:
        return f"The completion URL {url!r} uses plain http: http is allowed only for localhost while DEBUG is on."
    if scheme == "http":
        return f"The completion URL {url!r} uses plain http: use https, so the completion code is not sent in clear."
    if scheme == "https":
        return f"The completion URL {url!r} names no host."
    named = f"{scheme}:" if scheme else "no scheme"
    return f"The completion URL {url!r} has {named}; it must be an https:// address (such as Prolific's)."


def check_study_settings(*, study: Study, changed: Collection[str] | None = None) -> None:
    """Refuse the settings of ``study`` that its fields' own checks (``full_clean``) let through but it cannot have,
    in one ValidationError keyed by field (the admin's study form shows each on its field).

    ``study`` holds the settings to check; a field that is empty (``None``) is not checked. Every study is refused
    a size, scheduler or negative prompt that its model family's pipeline cannot take. A stored study being edited
    (``changed``: the names of the settings that change, as a form's ``changed_data``) is refused, besides:

    - a change to a locked setting (``check_settings_change``): refused alone, before anything else is checked;
    - attention checks its fixed pairs are too few for, once it is no longer a draft (``check_attention_checks``);
    - a new model while it holds imported pairs (``check_generates``).

    Every study is also refused characters ``evalsite.text_rules`` forbids in its texts (``TEXT_SETTINGS``: bidi
    controls, zero-width and other control characters, named with the line and character where they are) and a
    completion URL that is not https (``completion_url_error``).

    On an edit the family rules, the text rule and the completion URL rule apply only to what changes (for the
    family rules: when one of ``FAMILY_SETTINGS`` changes), so that a study saved before a rule existed keeps its
    other settings editable; ``changed`` None (a new study, or one about to generate) checks them always.
    """
    errors: dict[str, list[str]] = {}

    def add(exc: ValidationError, field: str) -> None:
        found = exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}
        for name, messages in found.items():
            errors.setdefault(name, []).extend(messages)

    if study.pk is not None and changed is not None:
        stored = Study.objects.get(pk=study.pk)
        _refuse_locked_changes(stored, changed)
        if stored.status != Study.Status.DRAFT and study.attention_checks:  # its pairs are fixed
            try:
                check_attention_checks(
                    study=stored, pairs=stored.pairs.count(), attention_checks=study.attention_checks
                )
            except ValidationError as exc:
                add(exc, "attention_checks")
        if study.model is not None and "model" in changed:
            try:
                check_generates(study=stored)
            except ValidationError as exc:
                add(exc, "model")
    if changed is None or any(name in changed for name in FAMILY_SETTINGS):
        for field, message in _family_errors(study).items():
            errors.setdefault(field, []).append(message)
    for field, message in _content_errors(study, changed).items():
        errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def queue_study_generation(*, study: Study) -> int:
    """Create a pair job for every prompt that has none and queue every pair not yet generated."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status not in (Study.Status.DRAFT, Study.Status.GENERATING):
        raise ValidationError(
            f"Study {study.slug!r} is {study.get_status_display().lower()}; it can no longer generate."
        )
    if not study.prompts.exists():
        raise ValidationError(f"Study {study.slug!r} has no prompts.")
    check_generates(study=study)
    if study.model is None:
        raise ValidationError(f"Study {study.slug!r} names no model to generate with.")
    check_attention_checks(study=study, pairs=study.prompts.count())
    check_study_settings(study=study)  # a study stored before a rule existed, or changed outside the services
    model = study.model
    job_settings = {
        "negative_prompt": study.negative_prompt,
        "model": model.source,
        "revision": model.revision,
        "dtype": model.dtype,
        "train_width": model.train_width,
        "train_height": model.train_height,
        "width": study.width,
        "height": study.height,
        "steps": study.steps,
        "guidance_scale": study.guidance_scale,
        "scheduler": study.scheduler,
    }
    prompts = list(study.prompts.filter(pair__isnull=True))
    finished = _finished_jobs(study, job_settings, prompts)
    for prompt in prompts:
        seed = study.base_seed + prompt.position
        job = finished.get((prompt.text, seed)) or create_pair_job(prompt=prompt.text, seed=seed, **job_settings)
        ImagePair.objects.create(study=study, prompt=prompt, job=job)
    _add_resized_images(study, job_settings)
    study.status = Study.Status.GENERATING
    study.save(update_fields=["status"])
    jobs = [*study.pairs.values_list("job_id", flat=True), *selectors.condition_image_jobs(study_id=study.pk)]
    queued = queue_pair_jobs(job_ids=jobs)
    if not queued:
        transaction.on_commit(lambda: refresh_study_status(study_id=study.pk))
    return queued


def check_resized_condition(*, study: Study) -> None:
    """Refuse generating a resized condition at the model's training size: its images would be the plain ones."""
    model = study.model
    resized = study.conditions.filter(kind=Condition.Kind.RESIZED).first()
    if resized and model and (study.width, study.height) == (model.train_width, model.train_height):
        raise ValidationError(
            f"Study {study.slug!r}: condition {resized.name!r} generates at {model.name}'s training size "
            f"({model.train_width}×{model.train_height}) and resizes to the study's, which is the same: its images "
            "would be the plain condition's. Choose another size, or remove the condition."
        )


def _add_resized_images(study: Study, job_settings: dict) -> None:
    """Give each prompt of the study's resized condition (if it has one) a pair job of its own: the prompt's seed at
    the model's training size, its images resized to the study's. Prompts that have one keep it."""
    resized = study.conditions.filter(kind=Condition.Kind.RESIZED).first()
    if resized is None:
        return
    check_resized_condition(study=study)
    model = study.model
    resize_settings = {
        **job_settings,
        "width": model.train_width,
        "height": model.train_height,
        "resize_width": study.width,
        "resize_height": study.height,
    }
    prompts = list(study.prompts.exclude(condition_images__condition=resized))
    finished = _finished_jobs(study, resize_settings, prompts)
    for prompt in prompts:
        seed = study.base_seed + prompt.position
        job = finished.get((prompt.text, seed)) or create_pair_job(prompt=prompt.text, seed=seed, **resize_settings)
        # at the training size the factor is exactly 1: the job's two arms are one image, its baseline
        ConditionImage.objects.create(prompt=prompt, condition=resized, job=job, name=job.baseline_image)


def _finished_jobs(study: Study, job_settings: dict, prompts: Sequence[Prompt]) -> dict[tuple[str, int], PairJob]:
    """Done pair jobs that made exactly these images already, by (prompt, seed): same model (source, revision, dtype
    and training size, which sets the scaling factor), size, steps, guidance, scheduler and negative prompt.

    Only jobs of studies the study's owner may see are reused (a study with no owner reuses none), so that a quick
    generation tells no one what another researcher has generated. A pair job has no study of its own; pairs of
    several studies may share one, each still shown to its annotators through sealed links of their own.
    """
    if study.owner is None or not prompts:
        return {}
    seeds = {study.base_seed + prompt.position for prompt in prompts}
    jobs = (
        PairJob.objects.filter(
            status=PairJob.Status.DONE,
            prompt__in={prompt.text for prompt in prompts},
            seed__in=seeds,
            **job_settings,
        )
        .filter(
            Q(study_pairs__study__in=access.visible_studies(study.owner))
            | Q(condition_images__prompt__study__in=access.visible_studies(study.owner))
        )
        .order_by("pk")
    )
    found: dict[tuple[str, int], PairJob] = {}
    for job in jobs:
        found.setdefault((job.prompt, job.seed), job)
    return found


def refresh_study_status(*, study_id: int) -> Study:
    """Move a generating study to ready (or open, if it asks to be) once every pair is generated."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study_id)
        if study.status != Study.Status.GENERATING:
            return study
        if study.pairs.exclude(job__status=PairJob.Status.DONE).exists() or selectors.missing_condition_images(
            study_id=study.pk
        ):
            return study
        study.status = Study.Status.OPEN if study.open_when_ready else Study.Status.READY
        study.save(update_fields=["status"])
        return study


@transaction.atomic
def open_study(*, study: Study) -> Study:
    """Open a study to annotators; refused unless every pair is generated."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status == Study.Status.OPEN:
        return study
    if study.status not in (Study.Status.READY, Study.Status.CLOSED, Study.Status.GENERATING):
        raise ValidationError(f"Study {study.slug!r} is a draft: generate its pairs before opening it.")
    missing = study.pairs.exclude(job__status=PairJob.Status.DONE).count()
    if missing or not study.pairs.exists():
        raise ValidationError(
            f"Study {study.slug!r} cannot open: {missing} of {study.pairs.count()} pairs are not generated."
        )
    if absent := selectors.missing_condition_images(study_id=study.pk):
        lacking = "; ".join(f"{name}: {_plural(count, 'prompt')}" for name, count in absent.items())
        raise ValidationError(f"Study {study.slug!r} cannot open: images are missing ({lacking}).")
    check_attention_checks(study=study, pairs=study.pairs.count())
    study.status = Study.Status.OPEN
    study.save(update_fields=["status"])
    return study


@transaction.atomic
def close_study(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.OPEN:
        raise ValidationError(f"Study {study.slug!r} is not open.")
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    return study


def check_prompts_editable(*, study: Study) -> None:
    """Refuse changing the prompts of a study that is no longer a draft (its pairs were made from them), or of a
    draft holding imported pairs (its prompts are the items of ratings imported with ``import_ratings``)."""
    if study.status != Study.Status.DRAFT:
        raise ValidationError(
            f"Study {study.slug!r} is {study.get_status_display().lower()}; prompts can be added only to a draft study."
        )
    if study.pairs.exists():
        raise ValidationError(
            f"Study {study.slug!r} holds imported pairs (ratings imported without images, from import_ratings): its "
            "prompts are the items of those ratings and are fixed."
        )
