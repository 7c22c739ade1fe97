"""The study's admin page: its settings form (in fieldsets, with presets and, on the add page, prompts pasted one a
line), its prompts table, its panel (``study_page``) and the actions that generate, open, close and duplicate it."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse

from generation.models import DiffusionModel

from .. import access
from ..models import DEFAULT_QUESTION, Condition, Criterion, Prompt, Study
from ..prompt_files import read_checked_prompts
from ..services import design, enrolment, studies
from ..services.prompt_import import add_prompts_from_file
from . import study_page
from .design import ConditionInline, CriterionInline, save_conditions, save_criteria
from .duplication import duplicate_paths, duplicate_selected
from .guards import KeepAnswersAdmin
from .images import image_import_path
from .invites import invite_paths
from .pilots import delete_pilot_runs_selected, pilot_paths
from .presets import preset_choices, presets_json
from .prompts import PromptForm, PromptFormSet, prompt_upload_path
from .scoping import StudyScopedAdmin
from .steps import step_paths


class PromptInline(admin.TabularInline):
    """Prompts are edited while the study is a draft; after that they are fixed. The prompts of imported ratings
    (a draft study whose pairs were imported) are fixed too: they are the items of those ratings."""

    model = Prompt
    form = PromptForm
    formset = PromptFormSet
    extra = 0
    fields = ("position", "text")

    def _editable(self, obj) -> bool:
        if obj is None:
            return True
        try:
            studies.check_prompts_editable(study=obj)
        except ValidationError:
            return False
        return True

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
    """Shows, each on its field, what ``services.studies.check_study_settings`` refuses: settings the model family
    cannot take, and changes that would invalidate generated pairs or collected ratings."""

    #: The file name the pasted prompts are read as: one prompt per line, as a plain-text prompt file.
    PROMPT_LINES_FILENAME = "prompts.txt"

    preset = forms.ChoiceField(
        required=False,
        choices=preset_choices,
        label="Preset",
        help_text="The paper's settings: choosing one fills width, height, steps and guidance; nothing else is saved.",
    )
    prompt_lines = forms.CharField(
        required=False,
        strip=False,  # line numbers in errors count every line
        label="Prompts",
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField study-prompt-lines"}),
        help_text="One prompt per line; blank lines are skipped. Checked as an uploaded prompt file is: empty, "
        "over-long and repeated prompts are named by line. More can be added later.",
    )
    design_preset = forms.ChoiceField(
        required=False,
        choices=[(key, preset.label) for key, preset in design.DESIGN_PRESETS.items()],
        initial="seed",
        label="Design",
        help_text="The conditions listed first (baseline and ours are the seed's), then the criteria each image is "
        "rated on: the question below and, with the others, those listed. Conditions can be added and removed in "
        "the study's Conditions table until it generates (e.g. a set of images imported from another method); "
        "criteria in its Criteria table until an annotator consents.",
    )
    question = forms.CharField(
        required=False,  # "Give the question…" (clean_question) says what is missing
        max_length=Criterion._meta.get_field("question").max_length,
        initial=DEFAULT_QUESTION,
        label="Question",
        widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
        help_text="What annotators are asked about each image, rated from 1 to 10.",
    )

    class Meta:
        model = Study
        fields = "__all__"
        formfield_callback = _https_urls

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # a saved study's question is its criterion's, in the Criteria table
            del self.fields["question"]
            del self.fields["design_preset"]
        if "preset" in self.fields:
            self.fields["preset"].widget.attrs.update({"data-presets": presets_json(), "class": "study-preset"})
        if "model" in self.fields:  # the training size of each model, which the form's script takes as the size
            widget = getattr(self.fields["model"].widget, "widget", self.fields["model"].widget)
            sizes = {str(model.pk): [model.train_width, model.train_height] for model in DiffusionModel.objects.all()}
            widget.attrs["data-train-sizes"] = json.dumps(sizes)

    def clean_question(self) -> str:
        """The new study's question, checked as its criterion's (``services.design``)."""
        question = (self.cleaned_data.get("question") or "").strip()
        if not question:
            raise ValidationError("Give the question annotators are asked about each image.")
        try:
            design.check_criterion(criterion=Criterion(question=question))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("question", exc.messages)) from None
        return question

    def clean_prompt_lines(self) -> str:
        """The pasted prompts as typed, once they read and check as a plain-text prompt file would."""
        text = self.cleaned_data.get("prompt_lines") or ""
        if text.strip():
            read_checked_prompts(text.encode(), filename=self.PROMPT_LINES_FILENAME)
        return text

    #: The settings ``check_study_settings`` reads from the form: the model family's (the negative prompt is among
    #: the texts), and the texts and completion URL (the characters and schemes it refuses).
    CHECKED = (
        *("model", "width", "height", "scheduler", "attention_checks", "completion_url"),
        *studies.TEXT_SETTINGS,
    )

    def clean(self):
        cleaned = super().clean()
        # as saved, but a field that is invalid counts as empty: its own error is shown; a completion URL that is no
        # URL at all (javascript:...) is checked as typed, for the service's clearer message beside "Enter a valid URL"
        values = {name: cleaned.get(name) for name in self.CHECKED}
        if "completion_url" in self.errors:
            values["completion_url"] = str(self.data.get(self.add_prefix("completion_url"), "")).strip()
        candidate = Study(pk=self.instance.pk, **values)
        try:
            studies.check_study_settings(study=candidate, changed=self.changed_data if self.instance.pk else None)
        except ValidationError as exc:  # each on its field; a locked setting alone, above the form
            self.add_error(None, exc)
        return cleaned


class StudyAdmin(StudyScopedAdmin, KeepAnswersAdmin):
    """A researcher sees the studies they own or that are shared with them (``StudyScopedAdmin``); generating,
    opening and closing need ``run_study``, invite links ``add_annotator``. The creator owns a new study; only the
    owner (or a superuser) changes whom it is shared with, and only a superuser hands it to another owner."""

    form = StudyForm
    study_path = ""
    list_display = (
        *("slug", "title", "status", "model", "width", "height", "generation_progress", "annotator_count"),
        "owner",
    )
    readonly_fields = ("status", "generation_progress")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (
            "What is studied",
            {
                "fields": (
                    *("title", "slug", "task", "allow_ties", "instructions", "consent_text"),
                    *("example_prompt", "example_low_image", "example_high_image"),
                )
            },
        ),
        (
            "Images",
            {
                "fields": (
                    *("preset", "model", ("width", "height"), "steps", "guidance_scale", "scheduler"),
                    *("negative_prompt", "base_seed", "open_when_ready"),
                ),
                "description": "Choose the model first: width and height take its training size; a preset then "
                "sets the paper's sizes.",
            },
        ),
        (
            "Annotators and quotas",
            {
                "fields": (
                    *("pairs_per_annotator", "ratings_per_pair", "attention_checks", "screen_out_after"),
                    "idle_timeout_minutes",
                )
            },
        ),
        (
            "Prolific",
            {
                "fields": (
                    *("enrolment_open", "enrolment_cap", "enrolments_per_address_per_hour"),
                    *("completion_code", "completion_url"),
                ),
                "description": "Enrolment through the open link or Prolific, and where finishers go with their code.",
            },
        ),
        ("Advanced", {"fields": ("status", "generation_progress", "owner", "shared_with")}),
    )
    list_filter = ("status",)
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    inlines = [ConditionInline, CriterionInline, PromptInline]
    actions = [
        *("queue_generation", "open_selected", "close_selected", "add_ten_annotators"),
        *(duplicate_selected, delete_pilot_runs_selected),
    ]

    class Media:
        css = {"all": ("annotations/admin/study.css",)}
        js = ("annotations/admin/study.js", "annotations/admin/study_form.js")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("model", "owner")
            .annotate(n_annotators=Count("annotators", filter=Q(annotators__is_pilot=False), distinct=True))
        )

    def get_fieldsets(self, request, obj=None):
        """On the add page the question is asked and the prompts are pasted, one a line, in "What is studied" (the
        criteria and prompts tables come after). The preset is offered while the size can still change: to a user
        who may change a draft."""
        (what, what_options), (images, images_options), *rest = super().get_fieldsets(request, obj)
        if obj is None:  # the design chosen sets the task
            title, slug, _task, *texts = what_options["fields"]
            what_options = {
                **what_options,
                "fields": (title, slug, "design_preset", "question", *texts, "prompt_lines"),
            }
        elif obj.status != Study.Status.DRAFT or not self.has_change_permission(request, obj):
            images_options = {**images_options, "fields": tuple(f for f in images_options["fields"] if f != "preset")}
        return ((what, what_options), (images, images_options), *rest)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_formset(self, request, form, formset, change):
        if formset.model is Criterion:
            save_criteria(formset)
        elif formset.model is Condition:
            save_conditions(formset)
        else:
            super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        """A new study's pasted prompts are added as a plain-text prompt file would be."""
        super().save_related(request, form, formsets, change)
        text = form.cleaned_data.get("prompt_lines") or ""
        if not change and text.strip():
            add_prompts_from_file(study=form.instance, data=text.encode(), filename=form.PROMPT_LINES_FILENAME)

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "task")
        if not request.user.is_superuser:
            fields += ("owner",)
        if not access.may_share(request.user, obj):
            fields += ("shared_with",)
        return fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "shared_with":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """The user who creates a study owns it (a superuser may name another owner); a new study gets the seed's
        design, asking the question typed, with the further criteria of the design chosen."""
        if not change and obj.owner_id is None:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        if not change:
            preset = form.cleaned_data.get("design_preset") or "seed"
            design.add_seed_design(study=obj, question=form.cleaned_data["question"], preset=preset)

    def has_invite_permission(self, request) -> bool:
        return request.user.has_perm(access.ADD_ANNOTATORS)

    @admin.display(description="Generation")
    def generation_progress(self, study: Study) -> str:
        if study.pk is None:
            return "–"
        return str(study_page.generation_progress(study))

    @admin.display(description="Annotators")
    def annotator_count(self, study: Study) -> int:
        """The study's annotators, pilot runs aside."""
        return study.n_annotators

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            context["study_panel"] = study_page.page_context(obj, request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        """A new study opens on its own page, which holds its next step and the links to hand out."""
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or "_popup" in request.POST:
            return response
        return HttpResponseRedirect(reverse("admin:annotations_study_change", args=[obj.pk]))

    def get_urls(self):
        return [
            prompt_upload_path(self),
            image_import_path(self),
            *invite_paths(self),
            *step_paths(self),
            *duplicate_paths(self),
            *pilot_paths(self),
            *super().get_urls(),
        ]

    def _run(self, request, queryset, action, done: str) -> None:
        for study in queryset:
            try:
                action(study=study)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"{study.slug}: {done}.", messages.SUCCESS)

    @admin.action(description="Generate the image pairs", permissions=["run"])
    def queue_generation(self, request, queryset) -> None:
        self._run(request, queryset, studies.queue_study_generation, "generation queued")

    @admin.action(description="Open to annotators", permissions=["run"])
    def open_selected(self, request, queryset) -> None:
        self._run(request, queryset, studies.open_study, "open")

    @admin.action(description="Close", permissions=["run"])
    def close_selected(self, request, queryset) -> None:
        self._run(request, queryset, studies.close_study, "closed")

    @admin.action(description="Create 10 annotator invite links", permissions=["invite"])
    def add_ten_annotators(self, request, queryset) -> None:
        for study in queryset:
            enrolment.create_annotators(study=study, count=10)
            self.message_user(request, f"{study.slug}: 10 invite links created (see Annotators).", messages.SUCCESS)
