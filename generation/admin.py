from django import forms
from django.contrib import admin, messages

from .models import DiffusionModel, PairJob
from .services import queue_pair_jobs, requeue_running_jobs


class DiffusionModelForm(forms.ModelForm):
    """Reads the model's configs on save: an unreadable source or a wrong family is refused by field."""

    class Meta:
        model = DiffusionModel
        fields = ("name", "source", "family", "revision", "train_width", "train_height", "dtype")

    def clean(self):
        cleaned = super().clean()
        if "source" not in self.fields:  # locked (``DiffusionModelAdmin.locked_fields``): nothing to read again
            return cleaned
        if not self.errors:
            from .registry import check_model  # imports diffusers and torch: only when a model is saved

            candidate = DiffusionModel(
                source=cleaned["source"], family=cleaned["family"], revision=cleaned.get("revision", "")
            )
            check_model(candidate)
        return cleaned


@admin.register(DiffusionModel)
class DiffusionModelAdmin(admin.ModelAdmin):
    form = DiffusionModelForm
    list_display = ("name", "family", "source", "revision", "train_width", "train_height", "dtype")
    list_filter = ("family",)
    search_fields = ("name", "source")
    #: What made a pair job's images: fixed once any pair job uses the entry's source.
    locked_fields = ("source", "family", "revision", "train_width", "train_height", "dtype")

    def _jobs_using(self, obj) -> int:
        return PairJob.objects.filter(model=obj.source).count() if obj is not None and obj.pk else 0

    def get_readonly_fields(self, request, obj=None):
        """Once pair jobs were made with the entry's source, what made them is read-only, with a note saying why."""
        if self._jobs_using(obj):
            return (*self.locked_fields, "locked_note")
        return super().get_readonly_fields(request, obj)

    @admin.display(description="Why these are fixed")
    def locked_note(self, obj) -> str:
        jobs = self._jobs_using(obj)
        return (
            f"{jobs} pair job{' was' if jobs == 1 else 's were'} made with {obj.source}: its source, family, "
            "revision, training size and dtype are fixed, so that what those jobs and their studies' protocols "
            "record stays true. Register a new entry for another model or other settings."
        )


@admin.register(PairJob)
class PairJobAdmin(admin.ModelAdmin):
    """Every study's jobs (and metrics runs'): the operator's. Queueing needs ``change_pairjob``; researchers queue
    their own study's pairs with the study's "Generate the image pairs" instead."""

    list_display = (
        "id",
        *("short_prompt", "model", "width", "height", "resize_width", "resize_height", "seed"),
        *("status", "attempts", "finished_at"),
    )
    list_filter = ("status", "model", "scheduler")
    search_fields = ("prompt", "error")
    readonly_fields = (
        "status",
        "error",
        "attempts",
        "task_id",
        "baseline_image",
        "ours_image",
        "metadata",
        "created_at",
        "started_at",
        "finished_at",
    )
    actions = ["queue_selected", "requeue_running_selected"]

    def get_readonly_fields(self, request, obj=None):
        """A saved job's settings are fixed: its images and metadata were (or will be) made from them."""
        if obj is None:
            return self.readonly_fields
        return [field.name for field in PairJob._meta.fields if field.name != "id"]

    @admin.display(description="Prompt")
    def short_prompt(self, job: PairJob) -> str:
        return job.prompt[:80]

    @admin.action(description="Queue generation of the selected pending and failed jobs", permissions=["change"])
    def queue_selected(self, request, queryset) -> None:
        count = queue_pair_jobs(job_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Queued {count} pair job(s).", messages.SUCCESS)

    @admin.action(
        description="Queue the selected running jobs again (only when their worker and task are gone)",
        permissions=["change"],
    )
    def requeue_running_selected(self, request, queryset) -> None:
        count = requeue_running_jobs(job_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Queued {count} running pair job(s) again.", messages.SUCCESS)
