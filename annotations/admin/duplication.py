"""Duplicating a study from admin: the study page's button and the list's action, both through
``services.duplication.duplicate_study``."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import access
from ..models import Study
from ..services.duplication import ADD_STUDY, duplicate_study

DUPLICATE_URL_NAME = "annotations_study_duplicate"


def _change_url(study: Study) -> str:
    return reverse("admin:annotations_study_change", args=[study.pk])


def duplicate_view(model_admin, request, object_id):
    """POST: copy the study and open the copy's page. 403 without ``add_study``; 404 for a study the user may not
    see."""
    access.require(request.user, ADD_STUDY)
    study = model_admin.get_object(request, unquote(object_id))
    if study is None:
        raise Http404(f"There is no {Study._meta.verbose_name} with id {object_id!r}.")
    try:
        copy = duplicate_study(study=study, user=request.user)
    except ValidationError as exc:
        model_admin.message_user(request, f"{study.slug} was not copied: {' '.join(exc.messages)}", messages.ERROR)
        return HttpResponseRedirect(_change_url(study))
    model_admin.message_user(
        request,
        f"Copied {study.slug} to {copy.slug}, a draft with {copy.prompts.count()} prompts. Change what differs, then "
        "Generate: pairs whose settings are unchanged reuse the images already made.",
        messages.SUCCESS,
    )
    return HttpResponseRedirect(_change_url(copy))


def duplicate_paths(model_admin) -> list:
    """The URL pattern for ``model_admin.get_urls``: ``<id>/duplicate/``, POST only."""

    @require_POST
    def view(request, object_id):
        return duplicate_view(model_admin, request, object_id)

    return [path("<path:object_id>/duplicate/", model_admin.admin_site.admin_view(view), name=DUPLICATE_URL_NAME)]


@admin.action(description="Duplicate (a draft copy with the same settings and prompts)", permissions=["add"])
def duplicate_selected(model_admin, request, queryset) -> None:
    """Copy each selected study (``get_queryset`` holds only the visible ones)."""
    for study in queryset:
        try:
            copy = duplicate_study(study=study, user=request.user)
        except ValidationError as exc:
            model_admin.message_user(request, f"{study.slug} was not copied: {' '.join(exc.messages)}", messages.ERROR)
        else:
            model_admin.message_user(request, f"Copied {study.slug} to {copy.slug}.", messages.SUCCESS)
