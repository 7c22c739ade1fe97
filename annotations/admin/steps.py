"""The study page's buttons that move a study on (Generate, Open, Close): admin views that call the same services as
the list's actions, with the same permission (``run_study``); and its State section alone, which the page fetches
again while pairs are generated."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .. import access
from ..models import Study
from ..services import studies
from .study_page import STATE_URL_NAME, TRANSITION_URL_NAME, state_context

#: Each step's service and what the message says once it is done.
STEPS = {
    "generate": (studies.queue_study_generation, "generation queued"),
    "open": (studies.open_study, "open to annotators"),
    "close": (studies.close_study, "closed"),
}


def step_view(model_admin, request, object_id, step):
    """POST: take ``step`` for the study and go back to its page, with the service's refusal as an error message.
    403 without ``run_study``; 404 for a study the user may not see or a step that does not exist."""
    access.require(request.user, access.RUN_STUDY)
    study = model_admin.get_object(request, unquote(object_id))
    if study is None or step not in STEPS:
        raise Http404(f"There is no {Study._meta.verbose_name} with id {object_id!r} or no step {step!r}.")
    service, done = STEPS[step]
    try:
        service(study=study)
    except ValidationError as exc:
        model_admin.message_user(request, " ".join(exc.messages), messages.ERROR)
    else:
        model_admin.message_user(request, f"{study.slug}: {done}.", messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:annotations_study_change", args=[study.pk]))


def state_view(model_admin, request, object_id):
    """GET: the study page's State section alone (HTML), as the page shows it now; 404 for a study the user may not
    see."""
    study = model_admin.get_object(request, unquote(object_id))
    if study is None or not model_admin.has_view_permission(request, study):
        raise Http404(f"There is no {Study._meta.verbose_name} with id {object_id!r}.")
    html = render_to_string(
        "admin/annotations/study/includes/state_panel.html", {"panel": state_context(study, request)}, request
    )
    return HttpResponse(html)


def step_paths(model_admin) -> list:
    """The URL patterns for ``model_admin.get_urls``: ``<id>/step/<step>/`` (POST) and ``<id>/state/`` (GET)."""

    @require_POST
    def view(request, object_id, step):
        return step_view(model_admin, request, object_id, step)

    @never_cache
    @require_GET
    def state(request, object_id):
        return state_view(model_admin, request, object_id)

    return [
        path(
            "<path:object_id>/step/<slug:step>/",
            model_admin.admin_site.admin_view(view),
            name=TRANSITION_URL_NAME,
        ),
        path("<path:object_id>/state/", model_admin.admin_site.admin_view(state), name=STATE_URL_NAME),
    ]
