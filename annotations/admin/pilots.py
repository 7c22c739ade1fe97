"""Pilot runs from the study's admin page: *Preview as annotator* (a pilot run of the researcher's own) and deleting
a study's pilot runs (the page's button, and the list's action), through ``services.pilots``; each needs
``run_study``. What the page shows of them is ``study_page.pilot_panel``."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import access
from ..models import Study
from ..services import pilots

PREVIEW_URL_NAME = "annotations_study_preview_as_annotator"
DELETE_URL_NAME = "annotations_study_delete_pilot_runs"


def _study(model_admin, request, object_id) -> Study:
    """The study the URL names: 403 without ``run_study``, 404 for one the user may not see."""
    access.require(request.user, access.RUN_STUDY)
    study = model_admin.get_object(request, unquote(object_id))
    if study is None:
        raise Http404(f"There is no {Study._meta.verbose_name} with id {object_id!r}.")
    return study


def _change_url(study: Study) -> str:
    return reverse("admin:annotations_study_change", args=[study.pk])


def preview_view(model_admin, request, object_id):
    """POST: start a pilot run and open its first page (consent); a refusal goes back to the study's page."""
    study = _study(model_admin, request, object_id)
    try:
        annotator = pilots.start_pilot(study=study)
    except ValidationError as exc:
        model_admin.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(_change_url(study))
    return HttpResponseRedirect(reverse("annotations:invite", kwargs={"token": annotator.token}))


def _deleted_message(study: Study, deleted: int) -> str:
    if not deleted:
        return f"{study.slug}: there were no pilot runs to delete."
    runs = f"{deleted} pilot run{'' if deleted == 1 else 's'}"
    return f"{study.slug}: deleted {runs} with their answers; nothing of the study's annotators changed."


def delete_view(model_admin, request, object_id):
    """POST: delete the study's pilot runs and go back to its page."""
    study = _study(model_admin, request, object_id)
    model_admin.message_user(request, _deleted_message(study, pilots.delete_pilot_runs(study=study)), messages.SUCCESS)
    return HttpResponseRedirect(_change_url(study))


def pilot_paths(model_admin) -> list:
    """The URL patterns for ``model_admin.get_urls``: ``<id>/pilot/preview/`` and ``<id>/pilot/delete/``, POST only."""

    def wrap(view):
        @require_POST
        def posted(request, object_id):
            return view(model_admin, request, object_id)

        return model_admin.admin_site.admin_view(posted)

    return [
        path("<path:object_id>/pilot/preview/", wrap(preview_view), name=PREVIEW_URL_NAME),
        path("<path:object_id>/pilot/delete/", wrap(delete_view), name=DELETE_URL_NAME),
    ]


@admin.action(description="Delete the pilot runs (their answers only; annotators' are kept)", permissions=["run"])
def delete_pilot_runs_selected(model_admin, request, queryset) -> None:
    """Delete each selected study's pilot runs (``get_queryset`` holds only the visible studies)."""
    for study in queryset:
        model_admin.message_user(
            request, _deleted_message(study, pilots.delete_pilot_runs(study=study)), messages.SUCCESS
        )
