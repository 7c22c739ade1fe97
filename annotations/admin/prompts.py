"""Prompts in admin: the study's prompt table (``PromptForm``, ``PromptFormSet``), checked as prompt files are, and
the page that uploads a prompt file to a draft study.

Wire the page into ``StudyAdmin.get_urls`` (before the default URLs, whose ``<path:object_id>/`` would catch it)::

    def get_urls(self):
        return [prompt_upload_path(self)] + super().get_urls()

and link to ``reverse(f"admin:{UPLOAD_URL_NAME}", args=[study.pk])`` from the study's change page.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .. import access
from ..models import Prompt
from ..prompt_files import (
    MAX_PROMPT_LENGTH,
    PROMPT_COLUMNS,
    PromptLine,
    bad_character,
    check_prompts,
    normalize_prompt,
)
from ..services.prompt_import import add_prompts_from_file

UPLOAD_URL_NAME = "annotations_study_upload_prompts"
TEMPLATE = "admin/annotations/study/upload_prompts.html"


class PromptForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ("position", "text")

    def clean_text(self) -> str:
        """Saved normalised, as the upload and ``create_study`` save it (``prompt_files.normalize_prompt``); a text
        holding a character prompts may not hold is kept as typed, for the formset to name it and its row (normalising
        would turn some, such as U+2028 LINE SEPARATOR, into spaces first)."""
        text = self.cleaned_data["text"]
        return text if bad_character(text) else normalize_prompt(text)


class PromptFormSet(BaseInlineFormSet):
    """Applies the checks of prompt files and ``create_study`` to the table's rows and the study's other prompts.

    Every row that stays is checked (``prompt_files.check_prompts``: a character prompts may not hold, an empty or
    over-long prompt, a repeat of another row or of a prompt the study already holds), and so is its position
    against the other rows and the study's prompts that the table does not show; errors name the row.
    """

    def clean(self):
        # before the formset's own uniqueness check, whose "Please correct the duplicate data" names no row
        rows: list[PromptLine] = []
        positions: dict[int, int] = {}  # position -> first row holding it
        problems: list[str] = []
        shown: set[int] = set()  # stored prompts that the table shows, kept or deleted
        for row, form in enumerate(self.forms, start=1):
            if form.instance.pk is not None:
                shown.add(form.instance.pk)
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            if form.instance.pk is None and not form.has_changed():
                continue  # an empty extra row
            if "text" in form.cleaned_data:  # else the row has its own error already (empty, a NUL)
                rows.append(PromptLine(row, form.cleaned_data["text"]))
            position = form.cleaned_data.get("position")
            if position is not None:
                if position in positions:
                    problems.append(f"row {row}: position {position} is also on row {positions[position]}")
                positions.setdefault(position, row)
        others = Prompt.objects.none()
        if self.instance.pk is not None:
            others = Prompt.objects.filter(study=self.instance).exclude(pk__in=shown)
        for position, text in others.filter(position__in=positions).values_list("position", "text"):
            problems.append(f"row {positions[position]}: position {position} is taken by the prompt {text[:80]!r}")
        try:
            check_prompts(rows, existing=others.values_list("text", flat=True), unit="row")
        except ValidationError as exc:
            problems = exc.messages + problems
        if problems:
            raise ValidationError(problems)
        super().clean()


class PromptUploadForm(forms.Form):
    file = forms.FileField(
        help_text="A .csv, .tsv, .jsonl/.ndjson, .txt (one prompt per line) or .parquet file, in UTF-8."
    )
    column = forms.CharField(
        required=False,
        max_length=200,
        help_text=f"The column holding the prompts; empty for the first of {', '.join(PROMPT_COLUMNS)}.",
    )
    sample = forms.IntegerField(
        required=False, min_value=1, label="Sample size", help_text="Add only this many prompts, drawn at random."
    )
    seed = forms.IntegerField(required=False, initial=0, help_text="The sample's random seed (default 0).")


def prompt_upload_view(model_admin, request, object_id):
    """Upload a prompt file to one study: the form, its line-by-line errors, or a redirect to the study."""
    opts = model_admin.model._meta
    for permission in ("annotations.change_study", "annotations.add_prompt"):
        access.require(request.user, permission)
    study = model_admin.get_object(request, unquote(object_id))  # None for a study the user may not see
    if study is None:
        raise Http404(f"There is no {opts.verbose_name} with id {object_id!r}.")
    if request.method == "POST":
        form = PromptUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                added = add_prompts_from_file(
                    study=study,
                    data=upload.read(),
                    filename=upload.name,
                    column=form.cleaned_data["column"] or None,
                    sample=form.cleaned_data["sample"],
                    seed=form.cleaned_data["seed"] or 0,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                model_admin.message_user(
                    request, f"Added {added} prompts from {upload.name} to {study.slug}.", messages.SUCCESS
                )
                change_url = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[quote(study.pk)],
                    current_app=model_admin.admin_site.name,
                )
                return HttpResponseRedirect(change_url)
    else:
        form = PromptUploadForm()
    request.current_app = model_admin.admin_site.name
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Upload prompts to {study}",
        "opts": opts,
        "original": study,
        "form": form,
        "prompt_count": study.prompts.count(),
        "max_length": MAX_PROMPT_LENGTH,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, TEMPLATE, context)


def prompt_upload_path(model_admin):
    """The URL pattern for ``model_admin.get_urls``: ``<id>/upload-prompts/``, staff-only, named UPLOAD_URL_NAME."""

    def view(request, object_id):
        return prompt_upload_view(model_admin, request, object_id)

    return path("<path:object_id>/upload-prompts/", model_admin.admin_site.admin_view(view), name=UPLOAD_URL_NAME)
