from django.contrib import admin, messages

from .models import PairJob
from .services import queue_pair_jobs


@admin.register(PairJob)
class PairJobAdmin(admin.ModelAdmin):
    list_display = ("id", "short_prompt", "model", "width", "height", "seed", "status", "attempts", "finished_at")
    list_filter = ("status", "model", "scheduler")
    search_fields = ("prompt", "error")
    readonly_fields = (
        "status", "error", "attempts", "baseline_image", "ours_image", "metadata",
        "created_at", "started_at", "finished_at",
    )
    actions = ["queue_selected"]

    @admin.display(description="Prompt")
    def short_prompt(self, job: PairJob) -> str:
        return job.prompt[:80]

    @admin.action(description="Queue generation of the selected jobs that are not done")
    def queue_selected(self, request, queryset) -> None:
        count = queue_pair_jobs(job_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Queued {count} pair job(s).", messages.SUCCESS)
