"""The page that imports an imported condition's images into a study (``services.image_import``): a zip of one
image per prompt, checked whole, its problems listed. Wired into ``StudyAdmin.get_urls`` by ``image_import_path``
and linked from the study page's "Pages"."""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .. import access
from ..image_sets import IMAGE_EXTENSIONS
from ..models import Condition
from ..services.image_import import import_condition_images

IMPORT_URL_NAME = "annotations_study_import_images"
TEMPLATE = "admin/annotations/study/import_images.html"


class ImageImportForm(forms.Form):
    condition = forms.ModelChoiceField(
        queryset=Condition.objects.none(), empty_label=None, help_text="The study's condition of imported images."
    )
    file = forms.FileField(
        label="Zip file",
        help_text=f"One image per prompt ({', '.join(IMAGE_EXTENSIONS)}), named by the prompt's number (7.png, "
        "prompt-007.jpg) or its text; folders inside are fine.",
    )

    def __init__(self, *args, study, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["condition"].queryset = study.conditions.filter(kind=Condition.Kind.IMPORTED)


def image_import_view(model_admin, request, object_id):
    """Import a zip of images for one of the study's imported conditions: the form, its problems, or a redirect."""
    opts = model_admin.model._meta
    access.require(request.user, "annotations.change_study")
    study = model_admin.get_object(request, unquote(object_id))  # None for a study the user may not see
    if study is None:
        raise Http404(f"There is no {opts.verbose_name} with id {object_id!r}.")
    form = ImageImportForm(request.POST or None, request.FILES or None, study=study)
    if request.method == "POST" and form.is_valid():
        condition, upload = form.cleaned_data["condition"], form.cleaned_data["file"]
        try:
            count = import_condition_images(condition=condition, source=upload)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            model_admin.message_user(
                request, f"Imported {count} images of {condition.name} from {upload.name}.", messages.SUCCESS
            )
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(study.pk)])
            return HttpResponseRedirect(change)
    request.current_app = model_admin.admin_site.name
    imported = study.conditions.filter(kind=Condition.Kind.IMPORTED)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Import images into {study}",
        "opts": opts,
        "original": study,
        "form": form,
        "has_conditions": imported.exists(),
        "prompt_count": study.prompts.count(),
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, TEMPLATE, context)


def image_import_path(model_admin):
    """The URL pattern for ``model_admin.get_urls``: ``<id>/import-images/``, staff-only, named IMPORT_URL_NAME."""

    def view(request, object_id):
        return image_import_view(model_admin, request, object_id)

    return path("<path:object_id>/import-images/", model_admin.admin_site.admin_view(view), name=IMPORT_URL_NAME)
