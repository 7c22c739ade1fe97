from django.contrib import admin

from .models import MetricResult, MetricsRun, ReferenceSet


@admin.register(ReferenceSet)
class ReferenceSetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "source", "requested", "sampled", "candidates", "skipped", "seed", "created_at")
    readonly_fields = ("name", "source", "kind", "seed", "requested", "candidates", "skipped", "created_at")
    search_fields = ("name", "source")

    @admin.display(description="Sampled")
    def sampled(self, reference: ReferenceSet) -> int:
        return reference.items.count()

    def has_add_permission(self, request) -> bool:
        return False  # subsets are sampled with manage.py sample_reference


class MetricResultInline(admin.TabularInline):
    model = MetricResult
    extra = 0
    can_delete = False
    fields = (
        "metric",
        "arm",
        "width",
        "height",
        "value",
        "images",
        "reference_images",
        "failed",
        "feature_network",
        "computed_at",
    )
    readonly_fields = fields


@admin.register(MetricsRun)
class MetricsRunAdmin(admin.ModelAdmin):
    list_display = ("study", "reference", "jobs", "created_at")
    inlines = [MetricResultInline]
    readonly_fields = ("study", "reference", "created_at")

    @admin.display(description="Pair jobs")
    def jobs(self, run: MetricsRun) -> int:
        return run.jobs.count()

    def has_add_permission(self, request) -> bool:
        return False  # runs are made by manage.py evaluate_metrics
