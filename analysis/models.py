"""Per-study analysis settings (the exclusion rules and the seed of the random parts of the analysis), and the
results bundles built for download."""

from django.db import models
from django.db.models import Q

from annotations.models import Study


class AnalysisSettings(models.Model):
    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="analysis_settings")
    min_seconds_per_item = models.FloatField(
        null=True, blank=True, help_text="Exclude annotators whose median seconds per item is below this; empty: off."
    )
    exclude_straightliners = models.BooleanField(
        default=True, help_text="Exclude annotators who gave one score to every image they rated."
    )
    max_attention_failures = models.PositiveIntegerField(
        null=True, blank=True, help_text="Exclude annotators with more failed attention checks than this; empty: off."
    )
    apply_exclusions_by_default = models.BooleanField(
        default=True, help_text="Exports and the results page apply the rules unless told otherwise."
    )
    seed = models.PositiveIntegerField(default=0, help_text="Seed of the bootstrap resampling.")
    bootstrap_resamples = models.PositiveIntegerField(default=2000)

    class Meta:
        verbose_name = "analysis settings"
        verbose_name_plural = "analysis settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_seconds_per_item__isnull=True) | Q(min_seconds_per_item__gte=0),
                name="analysis_min_seconds_nonnegative",
                violation_error_message="Minimum seconds per item must not be negative.",
            ),
            models.CheckConstraint(
                condition=Q(bootstrap_resamples__gte=100, bootstrap_resamples__lte=100000),
                name="analysis_resamples_range",
                violation_error_message="Bootstrap resamples must be between 100 and 100,000.",
            ),
        ]

    def __str__(self) -> str:
        return f"Analysis settings of {self.study.slug}"


class BundleStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ResultsBundle(models.Model):
    """One build of a study's download bundle: a zip of everything ``export_results --format all`` writes, stored
    under a random name and served only through the results page's download views (``analysis.bundles``)."""

    Status = BundleStatus

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="results_bundles")
    fingerprint = models.CharField(max_length=64, help_text="What it is built from (analysis.selectors).")
    ratings = models.PositiveIntegerField(help_text="The study's ratings when it was asked for.")
    status = models.CharField(max_length=10, choices=BundleStatus.choices, default=BundleStatus.QUEUED)
    step = models.PositiveIntegerField(default=0, help_text="Steps of the analysis done so far.")
    steps = models.PositiveIntegerField(default=0, help_text="Steps of the analysis in all (0: not known yet).")
    name = models.CharField(max_length=100, unique=True, help_text="Storage name of the zip, results/<32 hex>.zip.")
    files = models.JSONField(default=list, blank=True, help_text="[name, bytes] of each file in the zip.")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes of the zip.")
    error = models.TextField(blank=True, default="")
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=BundleStatus.values), name="resultsbundle_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Results of {self.study.slug} ({self.get_status_display().lower()})"
