"""The study page's buttons that move a study on (Generate, Open, Close): admin views that call the same services as
the list's actions, with the same permission (``run_study``)."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from .. import access
from ..models import Study
from ..services import studies
from .study_page import TRANSITION_URL_NAME

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


def step_paths(model_admin) -> list:
    """The URL pattern for ``model_admin.get_urls``: ``<id>/step/<step>/``, POST only."""

    @require_POST
    def view(request, object_id, step):
        return step_view(model_admin, request, object_id, step)

    return [
        path(
            "<path:object_id>/step/<slug:step>/",
            model_admin.admin_site.admin_view(view),
            name=TRANSITION_URL_NAME,
        )
    ]
