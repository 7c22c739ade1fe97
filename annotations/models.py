"""Studies, their prompts and image pairs, annotators, assignments and ratings."""

import re
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.db.models.lookups import Exact

from analysis.stats.tidy import SCORE_MAX, SCORE_MIN  # the rating scale, one rule with the tidy ratings' codebook
from generation.models import (
    GUIDANCE_SCALE_MAX,
    GUIDANCE_SCALE_MIN,
    IMAGE_SIZE_MAX,
    IMAGE_SIZE_MIN,
    IMAGE_SIZE_MULTIPLE,
    STEPS_MAX,
    STEPS_MIN,
    DiffusionModel,
    PairJob,
    Scheduler,
)
from generation.storage import new_image_name

DEFAULT_QUESTION = "Please rate your preference on image-text consistency from 1 to 10"


#: What an annotator's or a study's enrolment token can look like (``new_token``'s alphabet, at most the field's
#: 64 characters). The URLs accept nothing else, so a NUL or other stray character never reaches the database.
TOKEN_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_TOKEN = re.compile(TOKEN_PATTERN)


def new_token() -> str:
    """An annotator's secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def is_token(text: str) -> bool:
    """Whether ``text`` could be a token (see ``TOKEN_PATTERN``); lookups answer "no such token" for anything else."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


def new_completion_code() -> str:
    return secrets.token_hex(6).upper()


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    GENERATING = "generating", "Generating"
    READY = "ready", "Ready"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


#: The states in which a study takes pilot runs: its pairs are generated (``services.pilots``).
PILOT_STATUSES = (StudyStatus.READY, StudyStatus.OPEN)


def takes_answers(status: str, *, pilot: bool) -> bool:
    """Whether a study in ``status`` takes an annotator's answers: when open, and a pilot's also when ready."""
    return status == StudyStatus.OPEN or (pilot and status in PILOT_STATUSES)


class StudyTask(models.TextChoices):
    """What an annotator does on each screen: rate each image, or choose the better of two."""

    RATING = "rating", "Rate each image on each criterion"
    PAIRWISE = "pairwise", "Choose the better of two images on each criterion"


#: A pairwise choice is stored as two ratings, one per image, on this scale: the chosen image scores
#: ``CHOSEN``, the other ``NOT_CHOSEN``; a tie scores both ``NOT_CHOSEN``. So a choice is stored, exactly once, by
#: the statement that stores ratings, and reads back as left, right or tie (``selectors.judgment_rows``).
CHOSEN, NOT_CHOSEN = 2, 1


class Study(models.Model):
    Status = StudyStatus
    Task = StudyTask

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    consent_text = models.TextField(
        default=(
            "You will see pairs of images generated from a text. Rate how well each image matches the text, "
            "from 1 (does not match at all) to 10 (matches exactly). Your ratings are stored with a random "
            "identifier and used only for research."
        )
    )
    instructions = models.TextField(
        default=(
            "Read the text, look at both images, and give each image a score from 1 to 10 for how well it matches "
            "the text: 1 = does not match the text at all, 10 = matches it exactly. Judge each image on its own; "
            "the two may get the same score. Keys: 1–9 and 0 (for 10) score the highlighted image, Tab switches "
            "image, Enter submits."
        )
    )
    example_prompt = models.CharField(max_length=500, blank=True, default="", help_text="The text of the examples.")
    example_low_image = models.ImageField(
        upload_to="examples/", blank=True, help_text="An image that does not match the example text at all (1)."
    )
    example_high_image = models.ImageField(
        upload_to="examples/", blank=True, help_text="An image that matches the example text exactly (10)."
    )
    pairs_per_annotator = models.PositiveIntegerField(
        null=True, blank=True, help_text="Pairs each annotator rates; empty: all."
    )
    ratings_per_pair = models.PositiveIntegerField(
        null=True, blank=True, help_text="Annotators per pair at most; empty: no limit."
    )
    attention_checks = models.PositiveIntegerField(
        default=0, help_text="Pairs per annotator in which one image belongs to another prompt."
    )
    screen_out_after = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Failed attention checks that end an annotator's participation (no code); empty: never.",
    )
    enrolment_open = models.BooleanField(
        default=False, help_text="Let people join through the open enrolment link or from Prolific."
    )
    enrolment_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    pilot_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    enrolment_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Annotators who may join through enrolment at most; empty: no cap."
    )
    completion_code = models.CharField(
        max_length=64, blank=True, default="", help_text="One code for everyone (e.g. Prolific's); empty: one each."
    )
    completion_url = models.URLField(
        blank=True, default="", help_text="Where finishers go, with the code as ?cc= (e.g. Prolific's URL)."
    )
    task = models.CharField(
        max_length=10,
        choices=StudyTask.choices,
        default=StudyTask.RATING,
        editable=False,  # set by the design chosen when the study is made (``services.design``)
        help_text="Rate each image (every condition's image of a prompt on one screen), or choose between two "
        "conditions' images of a prompt (pairs of conditions balanced across annotators).",
    )
    allow_ties = models.BooleanField(
        default=True, help_text="Pairwise studies: let annotators answer that the two images are equally good."
    )
    status = models.CharField(max_length=12, choices=StudyStatus.choices, default=StudyStatus.DRAFT)
    open_when_ready = models.BooleanField(
        default=False, help_text="Open the study to annotators as soon as every pair is generated."
    )
    model = models.ForeignKey(
        DiffusionModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="studies",
        help_text="From the model registry; empty for a study of imported ratings.",
    )
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    steps = models.PositiveIntegerField(default=50)
    guidance_scale = models.FloatField(default=7.5)
    scheduler = models.CharField(max_length=20, choices=Scheduler.choices, default=Scheduler.DEFAULT)
    negative_prompt = models.TextField(blank=True, default="")
    base_seed = models.BigIntegerField(default=0, help_text="Prompt i is generated with seed base_seed + i.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_studies",
        help_text="The researcher who runs the study; superusers see every study.",
    )
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="shared_studies",
        help_text="Other researchers who may see, run and export the study.",
    )
    idle_timeout_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=60,
        help_text=(
            "Minutes without activity after which an annotator's unrated pairs go back to the pool and the "
            "annotator's time has run out (Prolific's maximum time is the natural value); empty: never."
        ),
    )
    enrolments_per_address_per_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=20,
        help_text="New annotators one network address may enrol through the open link in an hour; empty: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "studies"
        permissions = [
            ("run_study", "Can generate, open and close a study"),
            ("export_study", "Can see and export a study's results"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StudyStatus.values), name="study_status_valid"),
            models.CheckConstraint(condition=Q(task__in=StudyTask.values), name="study_task_valid"),
            models.CheckConstraint(
                condition=Q(
                    width__gte=IMAGE_SIZE_MIN,
                    width__lte=IMAGE_SIZE_MAX,
                    height__gte=IMAGE_SIZE_MIN,
                    height__lte=IMAGE_SIZE_MAX,
                )
                & Q(Exact(Mod("width", IMAGE_SIZE_MULTIPLE), 0))
                & Q(Exact(Mod("height", IMAGE_SIZE_MULTIPLE), 0)),
                name="study_size_valid",
                violation_error_message=(
                    f"Width and height must be multiples of {IMAGE_SIZE_MULTIPLE} between {IMAGE_SIZE_MIN} and "
                    f"{IMAGE_SIZE_MAX}."
                ),
            ),
            models.CheckConstraint(
                condition=Q(steps__gte=STEPS_MIN, steps__lte=STEPS_MAX),
                name="study_steps_range",
                violation_error_message=f"Steps must be between {STEPS_MIN} and {STEPS_MAX}.",
            ),
            models.CheckConstraint(
                condition=Q(guidance_scale__gte=GUIDANCE_SCALE_MIN, guidance_scale__lte=GUIDANCE_SCALE_MAX),
                name="study_guidance_range",
                violation_error_message=(
                    f"Guidance scale must be between {GUIDANCE_SCALE_MIN} and {GUIDANCE_SCALE_MAX}."
                ),
            ),
            # The field's choices name a wrong value first; the constraint keeps one out of the table (an update()).
            models.CheckConstraint(condition=Q(scheduler__in=Scheduler.values), name="study_scheduler_valid"),
            models.CheckConstraint(
                condition=Q(base_seed__gte=0),
                name="study_seed_nonnegative",
                violation_error_message="The base seed must not be negative.",
            ),
            models.CheckConstraint(
                condition=Q(pairs_per_annotator__isnull=True) | Q(pairs_per_annotator__gte=1),
                name="study_pairs_per_annotator_positive",
                violation_error_message="Pairs per annotator must be at least 1 (or empty for all).",
            ),
            models.CheckConstraint(
                condition=Q(ratings_per_pair__isnull=True) | Q(ratings_per_pair__gte=1),
                name="study_ratings_per_pair_positive",
                violation_error_message="Ratings per pair must be at least 1 (or empty for no limit).",
            ),
            models.CheckConstraint(
                condition=Q(screen_out_after__isnull=True) | Q(screen_out_after__gte=1),
                name="study_screen_out_after_positive",
                violation_error_message="Screening out needs at least 1 failed check (or empty for never).",
            ),
            models.CheckConstraint(
                condition=Q(idle_timeout_minutes__isnull=True) | Q(idle_timeout_minutes__gte=1),
                name="study_idle_timeout_positive",
                violation_error_message="The idle timeout must be at least 1 minute (or empty for never).",
            ),
            models.CheckConstraint(
                condition=Q(enrolments_per_address_per_hour__isnull=True) | Q(enrolments_per_address_per_hour__gte=1),
                name="study_enrolments_per_address_positive",
                violation_error_message="Enrolments per address must be at least 1 an hour (or empty for no limit).",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.slug


class ConditionKind(models.TextChoices):
    """How a condition's images are made: the pair job's two arms (the scaling factor off and on), the model at its
    training size resized to the study's, or imported from elsewhere (a method EvalSite does not implement)."""

    PLAIN = "plain", "Plain: the model at the study's size"
    ENTROPY = "entropy", "Entropy-scaled attention at the study's size"
    RESIZED = "resized", "The model at its training size, resized to the study's size"
    IMPORTED = "imported", "Imported: one image per prompt, made elsewhere"


#: The kinds whose images a prompt's pair job makes, and the arm of the job that holds each.
JOB_ARMS = {ConditionKind.PLAIN: "baseline", ConditionKind.ENTROPY: "ours"}
#: The kinds EvalSite generates; a study has at most one condition of each (a second would be the same images).
GENERATED_KINDS = (ConditionKind.PLAIN, ConditionKind.ENTROPY, ConditionKind.RESIZED)
#: The most conditions a study may have: one screen shows each prompt's image of every condition.
MAX_CONDITIONS = 8


#: The conditions every study starts with, and that a study of the seed's design keeps: (key, name, kind,
#: reference). The keys are what the data call them (the tidy ratings' ``baseline`` and ``ours``).
SEED_CONDITIONS = (
    ("baseline", "Baseline", ConditionKind.PLAIN, True),
    ("ours", "Ours", ConditionKind.ENTROPY, False),
)
#: A condition's or criterion's key, what the data files call it: a lowercase letter, then letters, digits or _.
key_validator = RegexValidator(
    r"\A[a-z][a-z0-9_]*\Z", "A key is a lowercase letter followed by lowercase letters, digits or underscores."
)


class Condition(models.Model):
    """One way of making a study's images, named in results and never shown to annotators; one is the reference."""

    Kind = ConditionKind

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40, validators=[key_validator], help_text="What the data files call it.")
    name = models.CharField(
        max_length=60, help_text="What results, figures and tables call it, e.g. SD-2.1 or + entropy scaling."
    )
    kind = models.CharField(max_length=12, choices=ConditionKind.choices)
    is_reference = models.BooleanField(
        default=False, help_text="The condition the others are compared with (the baseline)."
    )

    class Meta:
        ordering = ["study_id", "position"]  # by the column: no join
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="condition_unique_position"),
            models.UniqueConstraint(fields=["study", "key"], name="condition_unique_key"),
            models.UniqueConstraint(fields=["study", "name"], name="condition_unique_name"),
            models.UniqueConstraint(fields=["study"], condition=Q(is_reference=True), name="condition_one_reference"),
            models.CheckConstraint(condition=Q(kind__in=ConditionKind.values), name="condition_kind_valid"),
            models.CheckConstraint(condition=~Q(key="") & ~Q(name=""), name="condition_named"),
            models.UniqueConstraint(
                fields=["study", "kind"],
                condition=Q(kind__in=GENERATED_KINDS),
                name="condition_one_per_generated_kind",
                violation_error_message="A study has at most one condition of each generated kind.",
            ),
            models.CheckConstraint(
                condition=Q(position__lt=MAX_CONDITIONS),
                name="condition_position_range",
                violation_error_message=f"A study has at most {MAX_CONDITIONS} conditions.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


#: The scales a criterion may have: from 1 to this many points (the seed's is 1–10).
SCALE_POINTS = (5, 7, SCORE_MAX)
#: The criterion every study starts with: the seed's question and its scale's ends.
SEED_CRITERION = {
    "key": "consistency",
    "question": DEFAULT_QUESTION,
    "label": "Score",
    "low_anchor": "does not match",
    "high_anchor": "matches exactly",
}


class Criterion(models.Model):
    """A question each image is rated on: its text, its scale (1–5, 1–7 or 1–10), what the scale's ends mean, and its
    name in results."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40, validators=[key_validator], help_text="What the data files call it.")
    question = models.CharField(max_length=500, help_text="What annotators are asked, above the images.")
    label = models.CharField(
        max_length=120, help_text="What figures and tables call the scores, e.g. Image–text consistency."
    )
    scale_points = models.PositiveSmallIntegerField(
        "scale",
        default=SCORE_MAX,
        choices=[(points, f"1–{points}") for points in SCALE_POINTS],
        help_text="Scores from 1 to this.",
    )
    low_anchor = models.CharField(
        max_length=80, blank=True, default="", help_text="What the lowest score means, shown under the scale."
    )
    high_anchor = models.CharField(
        max_length=80, blank=True, default="", help_text="What the highest score means, shown under the scale."
    )

    class Meta:
        ordering = ["study_id", "position"]  # by the column: no join
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="criterion_unique_position"),
            models.UniqueConstraint(fields=["study", "key"], name="criterion_unique_key"),
            models.CheckConstraint(condition=~Q(key="") & ~Q(question="") & ~Q(label=""), name="criterion_has_texts"),
            models.CheckConstraint(condition=Q(scale_points__in=SCALE_POINTS), name="criterion_scale_valid"),
        ]

    def __str__(self) -> str:
        return self.label


class Prompt(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prompts")
    position = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["study", "position"]
        constraints = [
            models.UniqueConstraint(fields=["study", "position"], name="prompt_unique_position"),
            models.UniqueConstraint(fields=["study", "text"], name="prompt_unique_text"),
            models.CheckConstraint(condition=~Q(text=""), name="prompt_text_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class ImagePair(models.Model):
    """A study's item: one prompt and the pair job holding its baseline and ours images."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pairs")
    prompt = models.OneToOneField(Prompt, on_delete=models.CASCADE, related_name="pair")
    job = models.ForeignKey(
        PairJob,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="study_pairs",
        help_text="Empty for pairs whose ratings were imported from elsewhere.",
    )

    class Meta:
        ordering = ["study", "prompt__position"]

    def __str__(self) -> str:
        return f"Pair {self.pk} of {self.study.slug}"


class ConditionImage(models.Model):
    """A prompt's image of a condition its pair job does not make: a resized one (made by a pair job of its own, at
    the model's training size) or an imported one. Stored under a random name like the pair job's images, so the
    name tells nothing of the condition; pair jobs shared by studies share their names."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="condition_images")
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="images")
    job = models.ForeignKey(
        PairJob,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="condition_images",
        help_text="The pair job that generates the image (a resized condition); empty for an imported image.",
    )
    name = models.CharField(max_length=255, default=new_image_name, help_text="Storage name, random.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prompt", "condition"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "condition"], name="conditionimage_once_per_prompt"),
        ]

    def __str__(self) -> str:
        return f"{self.condition} image of {self.prompt}"


class AnnotatorSource(models.TextChoices):
    INVITE = "invite", "Invite link"
    OPEN = "open", "Open enrolment"
    PROLIFIC = "prolific", "Prolific"


class ReleaseReason(models.TextChoices):
    IDLE = "idle", "Idle past the study's timeout"
    RETURNED = "returned", "Returned on Prolific"
    TIMED_OUT = "timed-out", "Timed out on Prolific"


class Annotator(models.Model):
    Source = AnnotatorSource
    ReleaseReason = ReleaseReason

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="annotators")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    external_id = models.CharField(max_length=200, blank=True, default="", help_text="E.g. the Prolific PID.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.INVITE)
    entry = models.JSONField(default=dict, blank=True, help_text="What the entry URL carried (Prolific ids).")
    created_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    completion_code = models.CharField(max_length=64, blank=True, default="")
    screened_out_at = models.DateTimeField(
        null=True, blank=True, help_text="When failed attention checks ended the annotator's participation."
    )
    released_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the annotator's unrated pairs went back to the pool; ratings already given are kept.",
    )
    release_reason = models.CharField(max_length=10, choices=ReleaseReason.choices, blank=True, default="")
    browser_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="The browser a Prolific participant is bound to (its signed cookie holds this); empty: the next "
        "entry binds.",
    )
    enrolled_from = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="A keyed hash of the network address that enrolled (for the per-address limit).",
    )
    is_pilot = models.BooleanField(
        default=False,
        editable=False,
        help_text="A pilot run (Preview as annotator, or the pilot link): counted in no quota, progress or analysis.",
    )

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~Q(external_id=""),
                name="annotator_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | ~Q(completion_code=""),
                name="annotator_finished_has_code",
            ),
            models.CheckConstraint(condition=Q(source__in=AnnotatorSource.values), name="annotator_source_valid"),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True, release_reason="")
                | Q(released_at__isnull=False, release_reason__in=ReleaseReason.values),
                name="annotator_release_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["study", "enrolled_from", "created_at"], name="annotator_enrolled_from")]

    @property
    def label(self) -> str:
        """How exports name this annotator: the external id, else a stable number (a pilot run's says so)."""
        return self.external_id or f"{'pilot' if self.is_pilot else 'annotator'}-{self.pk}"

    def __str__(self) -> str:
        return self.label


ARMS = [("baseline", "Baseline"), ("ours", "Ours")]


class Assignment(models.Model):
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="assignments")
    pair = models.ForeignKey(ImagePair, on_delete=models.CASCADE, related_name="assignments")
    order = models.PositiveIntegerField(help_text="Position in the annotator's sequence, from 0.")
    ours_on_left = models.BooleanField(help_text="For an attention check: whether the mismatched image is left.")
    shown_at = models.DateTimeField(null=True, blank=True, help_text="When the server first showed the pair.")
    check_pair = models.ForeignKey(
        ImagePair,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="check_assignments",
        help_text="Attention checks only: the pair of another prompt that gives the mismatched image.",
    )
    check_arm = models.CharField(
        max_length=8,
        choices=ARMS,
        blank=True,
        default="",
        help_text="Attention checks only: the arm of the matching image (the pair's own prompt), drawn at random.",
    )
    check_other_arm = models.CharField(
        max_length=8,
        choices=ARMS,
        blank=True,
        default="",
        help_text=(
            "Attention checks only: the arm of the mismatched image (the other prompt's), drawn at random apart from "
            "the matching image's, so that a check links no two images by arm."
        ),
    )

    layout = models.CharField(
        max_length=MAX_CONDITIONS,
        blank=True,
        default="",
        help_text=(
            "A screen of every condition's image: the condition (by position, one digit) shown in each place from "
            "the left, drawn at random; empty on the seed's screen of two, whose places ours_on_left gives."
        ),
    )
    check_slot = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="An attention check on a screen of every condition's image: the place (from 0) of the mismatched "
        "image, the other prompt's image of the condition the layout puts there.",
    )

    class Meta:
        ordering = ["annotator", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "pair"], condition=Q(check_pair__isnull=True), name="assignment_unique_pair"
            ),
            models.UniqueConstraint(fields=["annotator", "order"], name="assignment_unique_order"),
            models.CheckConstraint(
                condition=Q(check_pair__isnull=True) | ~Q(check_pair=F("pair")), name="assignment_check_other_pair"
            ),
            models.CheckConstraint(
                condition=Q(check_pair__isnull=True, check_arm="", check_other_arm="", check_slot__isnull=True)
                | Q(
                    check_pair__isnull=False,
                    layout="",
                    check_arm__in=["baseline", "ours"],
                    check_other_arm__in=["baseline", "ours"],
                    check_slot__isnull=True,
                )
                | (
                    Q(check_pair__isnull=False, check_arm="", check_other_arm="", check_slot__isnull=False)
                    & ~Q(layout="")
                ),
                name="assignment_check_arms",
            ),
        ]

    @property
    def is_attention_check(self) -> bool:
        return self.check_pair_id is not None

    def __str__(self) -> str:
        return f"{self.annotator} #{self.order + 1}"


class Rating(models.Model):
    """One image's score on one criterion: a rated pair stores one for each of its conditions on each of the study's
    criteria, all in one statement (``sequence.store_answer``), with the seconds the server measured on the pair."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="ratings")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="ratings")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="ratings")
    score = models.PositiveSmallIntegerField()
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "condition", "criterion"], name="rating_once_per_image"),
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN, score__lte=SCORE_MAX),
                name="rating_score_in_range",
                violation_error_message=f"Scores must be whole numbers from {SCORE_MIN} to {SCORE_MAX}.",
            ),
            models.CheckConstraint(
                condition=Q(seconds__isnull=True) | Q(seconds__gte=0), name="rating_seconds_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment}: {self.score}"


class CheckResponse(models.Model):
    """The scores given on an attention check; it passes when the matching image scores higher."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="check_response")
    matching_score = models.PositiveSmallIntegerField()
    mismatched_score = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment"]
        constraints = [
            models.CheckConstraint(
                condition=Q(matching_score__gte=SCORE_MIN, matching_score__lte=SCORE_MAX)
                & Q(mismatched_score__gte=SCORE_MIN, mismatched_score__lte=SCORE_MAX),
                name="checkresponse_scores_in_range",
            ),
            models.CheckConstraint(
                condition=Q(passed=True, matching_score__gt=F("mismatched_score"))
                | Q(passed=False, matching_score__lte=F("mismatched_score")),
                name="checkresponse_passed_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment}: {'passed' if self.passed else 'failed'}"
