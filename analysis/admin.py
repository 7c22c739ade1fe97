from django.contrib import admin

from .models import AnalysisSettings


@admin.register(AnalysisSettings)
class AnalysisSettingsAdmin(admin.ModelAdmin):
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
