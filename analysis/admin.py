from django.contrib import admin

from annotations.admin.scoping import StudyScopedAdmin

from .models import AnalysisSettings


@admin.register(AnalysisSettings)
class AnalysisSettingsAdmin(StudyScopedAdmin):
    """A study's exclusion rules and analysis seed, for the researchers who may see the study (the names results
    give its conditions and criteria are the study's own, on its page)."""

    list_display = (
        "study",
        "min_seconds_per_item",
        "exclude_straightliners",
        "max_attention_failures",
        "apply_exclusions_by_default",
        "seed",
        "bootstrap_resamples",
    )
    list_select_related = ("study",)
    search_fields = ("study__slug", "study__title")
