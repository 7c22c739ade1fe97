from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.urls import reverse

from generation.models import PairJob
from generation.selectors import job_progress

from . import services
from .models import Annotator, Assignment, ImagePair, Prompt, Rating, Study


class PromptInline(admin.TabularInline):
    model = Prompt
    extra = 0
    fields = ("position", "text")


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "status", "model", "width", "height", "generation_progress", "annotator_count")
    readonly_fields = ("generation_progress",)
    list_filter = ("status",)
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [PromptInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["queue_generation", "open_selected", "close_selected", "add_ten_annotators"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model").annotate(
            n_annotators=Count("annotators", distinct=True)
        )

    @admin.display(description="Generation")
    def generation_progress(self, study: Study) -> str:
        if study.pk is None:
            return "–"
        return str(job_progress(PairJob.objects.filter(study_pairs__study=study)))

    @admin.display(description="Annotators")
    def annotator_count(self, study: Study) -> int:
        return study.n_annotators

    def _run(self, request, queryset, action, done: str) -> None:
        for study in queryset:
            try:
                action(study=study)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"{study.slug}: {done}.", messages.SUCCESS)

    @admin.action(description="Generate the image pairs")
    def queue_generation(self, request, queryset) -> None:
        self._run(request, queryset, services.queue_study_generation, "generation queued")

    @admin.action(description="Open to annotators")
    def open_selected(self, request, queryset) -> None:
        self._run(request, queryset, services.open_study, "open")

    @admin.action(description="Close")
    def close_selected(self, request, queryset) -> None:
        self._run(request, queryset, services.close_study, "closed")

    @admin.action(description="Create 10 annotator invite links")
    def add_ten_annotators(self, request, queryset) -> None:
        for study in queryset:
            services.create_annotators(study=study, count=10)
            self.message_user(request, f"{study.slug}: 10 invite links created (see Annotators).", messages.SUCCESS)


@admin.register(ImagePair)
class ImagePairAdmin(admin.ModelAdmin):
    list_display = ("id", "study", "prompt", "job_status")
    list_filter = ("study",)
    list_select_related = ("study", "prompt", "job")
    raw_id_fields = ("prompt", "job")

    @admin.display(description="Generation")
    def job_status(self, pair: ImagePair) -> str:
        return pair.job.get_status_display() if pair.job else "imported"


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = ("label", "study", "consented_at", "finished_at", "completion_code", "invite_link")
    list_filter = ("study",)
    search_fields = ("external_id", "completion_code")
    readonly_fields = ("token", "consented_at", "started_at", "finished_at", "completion_code", "invite_link")

    @admin.display(description="Invite link")
    def invite_link(self, annotator: Annotator) -> str:
        return reverse("annotations:invite", kwargs={"token": annotator.token}) if annotator.pk else ""


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("annotator", "order", "pair", "ours_on_left", "shown_at")
    list_filter = ("annotator__study",)
    raw_id_fields = ("annotator", "pair")


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("assignment", "baseline_score", "ours_score", "seconds", "created_at")
    list_filter = ("assignment__annotator__study",)
    raw_id_fields = ("assignment",)
