"""Per-study analysis settings: the exclusion rules and the seed of the random parts of the analysis."""

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
