"""Pair jobs: one prompt generated twice, the scaling factor off (baseline) and on (ours).

A pair job knows nothing of studies or people, so any evaluation can order pairs.
"""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.db.models.lookups import Exact

from .storage import new_image_name


class Scheduler(models.TextChoices):
    DEFAULT = "default", "The model's own"
    DDIM = "ddim", "DDIM"
    EULER = "euler", "Euler"
    DPMPP = "dpmpp", "DPM-Solver++"


class ModelFamily(models.TextChoices):
    SD = "sd", "Stable Diffusion 1.x / 2.x"
    SDXL = "sdxl", "Stable Diffusion XL"
    LDM = "ldm", "Latent Diffusion text2im"
    PIXART = "pixart", "PixArt-α"


# The limits of what a pair job (and so a study, and a model's training size) may ask for: the one place each number
# is written; the models' constraints, their messages and the checks elsewhere take them from here.

#: Image size in pixels: from IMAGE_SIZE_MIN to IMAGE_SIZE_MAX, a multiple of IMAGE_SIZE_MULTIPLE (the VAE's
#: downsampling).
IMAGE_SIZE_MIN, IMAGE_SIZE_MAX, IMAGE_SIZE_MULTIPLE = 8, 4096, 8
#: Denoising steps.
STEPS_MIN, STEPS_MAX = 1, 1000
#: Classifier-free guidance scale.
GUIDANCE_SCALE_MIN, GUIDANCE_SCALE_MAX = 0, 50

#: Image sizes must be multiples of this many pixels: the VAE's 8, times 2 for PixArt's patches of the latent.
FAMILY_SIZE_MULTIPLE = {ModelFamily.PIXART: 16}

#: Schedulers a family's pipeline cannot drive: LDMTextToImagePipeline neither scales its initial noise by the
#: scheduler's ``init_noise_sigma`` nor calls ``scale_model_input``, which Euler needs (its sigma starts near 14.6).
FAMILY_REFUSED_SCHEDULERS = {ModelFamily.LDM: (Scheduler.EULER,)}

#: Families whose pipeline takes no negative prompt.
FAMILY_WITHOUT_NEGATIVE_PROMPT = (ModelFamily.LDM,)


def family_setting_errors(
    *, family: str, width: int | None, height: int | None, scheduler: str, negative_prompt: str
) -> dict[str, str]:
    """What a model family's pipeline cannot do with these study settings, as a message per field."""
    label = ModelFamily(family).label
    errors = {}
    multiple = FAMILY_SIZE_MULTIPLE.get(family)
    for field, value in (("width", width), ("height", height)):
        if multiple and value and value % multiple:
            errors[field] = f"A {label} model needs a {field} that is a multiple of {multiple} pixels."
    if scheduler in FAMILY_REFUSED_SCHEDULERS.get(family, ()):
        errors["scheduler"] = (
            f"A {label} pipeline cannot sample with {Scheduler(scheduler).label}: it does not scale the noise for "
            "that scheduler. Use DDIM or DPM-Solver++."
        )
    if negative_prompt and family in FAMILY_WITHOUT_NEGATIVE_PROMPT:
        errors["negative_prompt"] = f"A {label} pipeline takes no negative prompt."
    return errors


#: The diffusers pipeline class of each family, as named in model_index.json.
FAMILY_PIPELINES = {
    ModelFamily.SD: "StableDiffusionPipeline",
    ModelFamily.SDXL: "StableDiffusionXLPipeline",
    ModelFamily.LDM: "LDMTextToImagePipeline",
    ModelFamily.PIXART: "PixArtAlphaPipeline",
}


class Dtype(models.TextChoices):
    AUTO = "", "Automatic (float16 on CUDA, float32 on the CPU)"
    FLOAT32 = "float32", "float32"
    FLOAT16 = "float16", "float16"
    BFLOAT16 = "bfloat16", "bfloat16"


class DiffusionModel(models.Model):
    """A model in the registry: where to load it from and the resolution it was trained at."""

    name = models.CharField(max_length=100, unique=True)
    source = models.CharField(max_length=500, help_text="A diffusers model id (org/name) or a local folder.")
    family = models.CharField(max_length=10, choices=ModelFamily.choices)
    revision = models.CharField(max_length=200, blank=True, default="")
    train_width = models.PositiveIntegerField(help_text="Training resolution in pixels, e.g. 512 for SD-2.1-base.")
    train_height = models.PositiveIntegerField()
    dtype = models.CharField(max_length=10, choices=Dtype.choices, blank=True, default=Dtype.AUTO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(family__in=ModelFamily.values), name="diffusionmodel_family_valid"),
            models.CheckConstraint(condition=Q(dtype__in=Dtype.values), name="diffusionmodel_dtype_valid"),
            models.CheckConstraint(
                condition=Q(train_width__gte=IMAGE_SIZE_MIN, train_height__gte=IMAGE_SIZE_MIN)
                & Q(Exact(Mod("train_width", IMAGE_SIZE_MULTIPLE), 0))
                & Q(Exact(Mod("train_height", IMAGE_SIZE_MULTIPLE), 0)),
                name="diffusionmodel_train_size_valid",
                violation_error_message=f"The training resolution must be a multiple of {IMAGE_SIZE_MULTIPLE} pixels.",
            ),
            models.CheckConstraint(condition=~Q(source=""), name="diffusionmodel_source_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PairJob(models.Model):
    Status = JobStatus

    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True, default="")
    model = models.CharField(max_length=500, help_text="A diffusers model id or a local folder.")
    revision = models.CharField(max_length=200, blank=True, default="")
    dtype = models.CharField(max_length=10, choices=Dtype.choices, blank=True, default=Dtype.AUTO)
    train_width = models.PositiveIntegerField(
        null=True, blank=True, help_text="Training resolution in pixels; empty: the UNet's sample size."
    )
    train_height = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    steps = models.PositiveIntegerField(default=50)
    guidance_scale = models.FloatField(default=7.5)
    scheduler = models.CharField(max_length=20, choices=Scheduler.choices, default=Scheduler.DEFAULT)
    seed = models.BigIntegerField(default=0)
    resize_width = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "The job generates at width×height (the model's training size) and stores each image resized to this "
            "size; empty: stored as generated."
        ),
    )
    resize_height = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    #: The Celery task that holds the job while it runs; a redelivery of that task (same id) may take it up again.
    task_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    #: The images' storage names, drawn at random when the job is made: the task writes under them, a redelivered
    #: one again under the same; the files exist once the job is done.
    baseline_image = models.CharField(max_length=255, default=new_image_name, help_text="Storage name, random.")
    ours_image = models.CharField(max_length=255, default=new_image_name, help_text="Storage name, random.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    width__gte=IMAGE_SIZE_MIN,
                    width__lte=IMAGE_SIZE_MAX,
                    height__gte=IMAGE_SIZE_MIN,
                    height__lte=IMAGE_SIZE_MAX,
                ),
                name="pairjob_size_range",
                violation_error_message=f"Width and height must be between {IMAGE_SIZE_MIN} and {IMAGE_SIZE_MAX}.",
            ),
            models.CheckConstraint(
                condition=Q(Exact(Mod("width", IMAGE_SIZE_MULTIPLE), 0))
                & Q(Exact(Mod("height", IMAGE_SIZE_MULTIPLE), 0)),
                name="pairjob_size_multiple_of_8",
                violation_error_message=f"Width and height must be multiples of {IMAGE_SIZE_MULTIPLE}.",
            ),
            models.CheckConstraint(
                condition=Q(train_width__isnull=True, train_height__isnull=True)
                | (
                    # NOT NULL spelled out: a CHECK passes where its condition is NULL
                    Q(train_width__isnull=False, train_height__isnull=False)
                    & Q(train_width__gte=IMAGE_SIZE_MIN, train_height__gte=IMAGE_SIZE_MIN)
                    & Q(Exact(Mod("train_width", IMAGE_SIZE_MULTIPLE), 0))
                    & Q(Exact(Mod("train_height", IMAGE_SIZE_MULTIPLE), 0))
                ),
                name="pairjob_train_size_valid",
                violation_error_message=(
                    f"The training width and height must both be given, as multiples of {IMAGE_SIZE_MULTIPLE} pixels, "
                    "or both be empty."
                ),
            ),
            models.CheckConstraint(
                condition=Q(resize_width__isnull=True, resize_height__isnull=True)
                | (
                    # NOT NULL spelled out: a CHECK passes where its condition is NULL
                    Q(resize_width__isnull=False, resize_height__isnull=False)
                    & Q(
                        resize_width__gte=IMAGE_SIZE_MIN,
                        resize_width__lte=IMAGE_SIZE_MAX,
                        resize_height__gte=IMAGE_SIZE_MIN,
                        resize_height__lte=IMAGE_SIZE_MAX,
                    )
                ),
                name="pairjob_resize_size_valid",
                violation_error_message=(
                    f"The resize width and height must both be given, between {IMAGE_SIZE_MIN} and {IMAGE_SIZE_MAX} "
                    "pixels, or both be empty."
                ),
            ),
            models.CheckConstraint(
                condition=Q(steps__gte=STEPS_MIN, steps__lte=STEPS_MAX),
                name="pairjob_steps_range",
                violation_error_message=f"Steps must be between {STEPS_MIN} and {STEPS_MAX}.",
            ),
            models.CheckConstraint(
                condition=Q(guidance_scale__gte=GUIDANCE_SCALE_MIN, guidance_scale__lte=GUIDANCE_SCALE_MAX),
                name="pairjob_guidance_range",
                violation_error_message=(
                    f"Guidance scale must be between {GUIDANCE_SCALE_MIN} and {GUIDANCE_SCALE_MAX}."
                ),
            ),
            models.CheckConstraint(
                condition=Q(seed__gte=0),
                name="pairjob_seed_nonnegative",
                violation_error_message="The seed must not be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(prompt=""),
                name="pairjob_prompt_not_empty",
                violation_error_message="The prompt must not be empty.",
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="pairjob_status_valid"),
            models.CheckConstraint(condition=Q(scheduler__in=Scheduler.values), name="pairjob_scheduler_valid"),
            models.CheckConstraint(
                condition=~Q(baseline_image="") & ~Q(ours_image="") & ~Q(baseline_image=F("ours_image")),
                name="pairjob_has_image_names",
            ),
        ]

    def __str__(self) -> str:
        return f"Pair job {self.pk}: {self.prompt[:60]}"
