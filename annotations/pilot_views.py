"""The pilot link's page: anyone holding a study's pilot link starts a pilot run of their own (``services.pilots``),
which goes through the annotator's pages (``views``) under a pilot banner and counts nowhere. It never enrols a real
annotator, whatever the study's state."""

import re

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import selectors
from .models import new_token
from .services import pilots
from .services.enrolment import TooManyEnrolments
from .views import client_address

_ATTEMPT = re.compile(r"[A-Za-z0-9_-]{43}")  # what new_token() makes: 256 random bits


def pilot_attempt_id(attempt: str) -> str:
    """The external id of the pilot a pilot form makes, from the form's random ``attempt``: a form posted twice (a
    double click) gets the same pilot. A keyed hash, as for the open link's joins; "" for a malformed value."""
    if not _ATTEMPT.fullmatch(attempt):
        return ""
    return "pilot-" + salted_hmac("annotations.pilot-attempt", attempt).hexdigest()[:16]


@never_cache
@require_http_methods(["GET", "POST"])
def pilot(request: HttpRequest, pilot_token: str) -> HttpResponse:
    """GET: what a pilot run is, and *Start the pilot*; POST: start one and go to its consent page. A study that
    cannot be piloted now (not generated, or closed) gets a page saying why (403)."""
    study = selectors.study_by_pilot_token(pilot_token)
    if study is None:
        raise Http404("No such study.")
    context = {"study": study, "pilot": True}
    try:
        if request.method == "POST":
            annotator = pilots.join_pilot(
                study=study,
                external_id=pilot_attempt_id(request.POST.get("attempt", "")),
                address=client_address(request),
            )
            return redirect("annotations:invite", token=annotator.token)
        pilots.check_pilot_allowed(study)
    except TooManyEnrolments as exc:
        return render(request, "annotations/too_many.html", {**context, "error": " ".join(exc.messages)}, status=429)
    except ValidationError as exc:
        return render(request, "annotations/pilot.html", {**context, "error": " ".join(exc.messages)}, status=403)
    return render(request, "annotations/pilot.html", {**context, "attempt": new_token()})
