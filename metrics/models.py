"""Reference subsets (a fixed, recorded sample of image-caption pairs), evaluation runs and their results."""

from django.db import models
from django.db.models import Q

from annotations.models import Study
from generation.models import PairJob


class SourceKind(models.TextChoices):
    FOLDER = "folder", "img2dataset folder"
    TAR = "tar", "WebDataset .tar shards"
    CSV = "csv", "CSV of caption and image path"


class ReferenceSet(models.Model):
    """A sample of ``n`` image-caption pairs drawn with ``seed`` from a source, recorded item by item."""

    name = models.SlugField(max_length=80, unique=True)
    source = models.CharField(max_length=1000, help_text="The folder, .tar shard(s) or CSV file sampled from.")
    kind = models.CharField(max_length=10, choices=SourceKind.choices)
    seed = models.BigIntegerField(default=0)
    requested = models.PositiveIntegerField(help_text="The N asked for.")
    candidates = models.PositiveIntegerField(default=0, help_text="Samples found in the source.")
    skipped = models.JSONField(default=dict, blank=True, help_text="Candidates passed over, by reason.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(requested__gte=1), name="referenceset_requested_positive"),
            models.CheckConstraint(condition=~Q(source=""), name="referenceset_source_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class ReferenceItem(models.Model):
    """One sampled pair: its caption and where its image is (a file, or a member of a .tar shard)."""

    reference = models.ForeignKey(ReferenceSet, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField(help_text="Position in the sample, 0-based; seeds are base_seed + index.")
    key = models.CharField(max_length=500, help_text="The sample's key in its source (file stem or shard key).")
    caption = models.TextField()
    path = models.CharField(max_length=1000, help_text="The image file, or the .tar shard that holds it.")
    member = models.CharField(max_length=500, blank=True, default="", help_text="The image's name in the shard.")
    offset = models.BigIntegerField(null=True, blank=True, help_text="Byte offset of the image in the shard.")
    size = models.BigIntegerField(null=True, blank=True, help_text="Byte size of the image in the shard.")

    class Meta:
        ordering = ["reference", "index"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "index"], name="referenceitem_unique_index"),
            models.CheckConstraint(condition=~Q(caption=""), name="referenceitem_caption_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.reference.name}[{self.index}]"


class Metric(models.TextChoices):
    FID = "fid", "FID"
    CLIP = "clip", "CLIP score"


class Arm(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    OURS = "ours", "Ours"


class MetricsRun(models.Model):
    """A study's settings evaluated on a reference subset: one pair job per sampled caption and resolution."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="metrics_runs")
    reference = models.ForeignKey(ReferenceSet, on_delete=models.PROTECT, related_name="runs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["study", "reference"], name="metricsrun_unique")]

    def __str__(self) -> str:
        return f"{self.study.slug} on {self.reference.name}"


class MetricsJob(models.Model):
    """The pair job that generates sampled caption ``index`` at one resolution for a run."""

    run = models.ForeignKey(MetricsRun, on_delete=models.CASCADE, related_name="jobs")
    index = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    job = models.OneToOneField(PairJob, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["run", "width", "height", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "width", "height", "index"], name="metricsjob_unique"),
        ]


class MetricResult(models.Model):
    """One number: a metric of one arm at one resolution, for a study on a reference subset."""

    run = models.ForeignKey(MetricsRun, on_delete=models.CASCADE, related_name="results")
    metric = models.CharField(max_length=10, choices=Metric.choices)
    arm = models.CharField(max_length=10, choices=Arm.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    value = models.FloatField()
    images = models.PositiveIntegerField(help_text="Generated images the value is computed over.")
    reference_images = models.PositiveIntegerField(default=0, help_text="Reference images (FID only).")
    failed = models.PositiveIntegerField(default=0, help_text="Images that could not be generated or read.")
    feature_network = models.CharField(max_length=50, help_text="The network that gave the features.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "width", "height", "metric", "arm"]
        constraints = [
            models.UniqueConstraint(fields=["run", "metric", "arm", "width", "height"], name="metricresult_unique"),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="metricresult_metric_valid"),
            models.CheckConstraint(condition=Q(arm__in=Arm.values), name="metricresult_arm_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} {self.arm} {self.width}×{self.height}: {self.value:.3f}"
