"""The study's admin page: its settings form, its prompts table, and the actions that generate, open and close it."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from generation.models import PairJob, family_setting_errors
from generation.selectors import job_progress

from ..models import Prompt, Study
from ..services import enrolment, studies
from .guards import KeepAnswersAdmin
from .invites import invite_paths
from .prompts import UPLOAD_URL_NAME, PromptForm, PromptFormSet, prompt_upload_path


class PromptInline(admin.TabularInline):
    """Prompts are edited while the study is a draft; after that they are fixed. The prompts of imported ratings
    (a draft study whose pairs were imported) are fixed too: they are the items of those ratings."""

    model = Prompt
    form = PromptForm
    formset = PromptFormSet
    extra = 0
    fields = ("position", "text")

    def _editable(self, obj) -> bool:
        return obj is None or (obj.status == Study.Status.DRAFT and not obj.pairs.exists())

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


def _https_urls(field, **kwargs):
    """Form fields for the study; URLs typed without a scheme are taken as https."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class StudyForm(forms.ModelForm):
    """Refuses changes that would invalidate generated pairs or collected ratings, naming them."""

    class Meta:
        model = Study
        fields = "__all__"
        formfield_callback = _https_urls

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            studies.check_settings_change(study=self.instance, changed=self.changed_data)
            stored = Study.objects.get(pk=self.instance.pk)
            if stored.status != Study.Status.DRAFT and cleaned.get("attention_checks"):  # its pairs are fixed
                try:
                    studies.check_attention_checks(
                        study=stored, pairs=stored.pairs.count(), attention_checks=cleaned["attention_checks"]
                    )
                except ValidationError as exc:
                    self.add_error(None, exc)
        model = cleaned.get("model")
        if model and self.instance.pk and "model" in self.changed_data:
            try:
                studies.check_generates(study=self.instance)
            except ValidationError as exc:
                self.add_error("model", exc)
        family_fields = ("model", "width", "height", "scheduler", "negative_prompt")
        # a study saved before a rule existed keeps its other fields editable (its settings may be locked already)
        if model and (not self.instance.pk or any(name in self.changed_data for name in family_fields)):
            errors = family_setting_errors(
                family=model.family, width=cleaned.get("width"), height=cleaned.get("height"),
                scheduler=cleaned.get("scheduler", ""), negative_prompt=cleaned.get("negative_prompt", ""),
            )
            for field, message in errors.items():
                self.add_error(field, f"{model.name}: {message}")
        return cleaned


class StudyAdmin(KeepAnswersAdmin):
    form = StudyForm
    list_display = ("slug", "title", "status", "model", "width", "height", "generation_progress", "annotator_count")
    readonly_fields = ("status", "generation_progress", "links")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ("status",)
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [PromptInline]
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

    @admin.display(description="Pages")
    def links(self, study: Study) -> str:
        if study.pk is None:
            return "–"
        enrol = reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token})
        prolific = reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token})
        items = [
            ("Monitor", reverse("annotations:monitor", args=[study.slug])),
            ("Preview pairs", reverse("annotations:preview", args=[study.slug])),
            ("Upload prompts", reverse(f"admin:{UPLOAD_URL_NAME}", args=[study.pk])),
            ("Invite links", reverse("admin:annotations_study_invites", args=[study.pk])),
            ("Invite links (CSV)", reverse("admin:annotations_study_invites_csv", args=[study.pk])),
        ]
        html = format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in items))
        return format_html(
            "{}<br>Open enrolment link: <code>{}</code><br>Prolific study URL: <code>{}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
            "&amp;STUDY_ID={{{{%STUDY_ID%}}}}&amp;SESSION_ID={{{{%SESSION_ID%}}}}</code>",
            html, enrol, prolific,
        )

    def get_urls(self):
        return [prompt_upload_path(self), *invite_paths(self), *super().get_urls()]

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
        self._run(request, queryset, studies.queue_study_generation, "generation queued")

    @admin.action(description="Open to annotators")
    def open_selected(self, request, queryset) -> None:
        self._run(request, queryset, studies.open_study, "open")

    @admin.action(description="Close")
    def close_selected(self, request, queryset) -> None:
        self._run(request, queryset, studies.close_study, "closed")

    @admin.action(description="Create 10 annotator invite links")
    def add_ten_annotators(self, request, queryset) -> None:
        for study in queryset:
            enrolment.create_annotators(study=study, count=10)
            self.message_user(request, f"{study.slug}: 10 invite links created (see Annotators).", messages.SUCCESS)
