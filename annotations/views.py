"""The annotator's pages: invite link → consent → rate pairs → completion code."""
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services
from .models import Annotator, Assignment, Study


def _annotator_or_404(token: str) -> Annotator:
    annotator = selectors.annotator_by_token(token)
    if annotator is None:
        raise Http404("No such invitation.")
    return annotator


def _closed_page(request: HttpRequest, annotator: Annotator) -> HttpResponse | None:
    """The page to show instead when the study does not take ratings now."""
    if annotator.study.status == Study.Status.OPEN:
        return None
    return render(request, "annotations/not_open.html", {"study": annotator.study}, status=403)


@never_cache
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """The invite link: consent first, then the rating pages."""
    annotator = _annotator_or_404(token)
    if annotator.finished_at:
        return redirect("annotations:done", token=token)
    if closed := _closed_page(request, annotator):
        return closed
    if annotator.consented_at:
        return redirect("annotations:rate", token=token)
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render(
                request,
                "annotations/consent.html",
                {"annotator": annotator, "study": annotator.study, "error": "Tick the box to take part."},
                status=400,
            )
        services.give_consent(annotator=annotator)
        return redirect("annotations:rate", token=token)
    return render(request, "annotations/consent.html", {"annotator": annotator, "study": annotator.study})


@never_cache
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    """Show the next unrated pair; a POST stores its rating once and moves on."""
    annotator = _annotator_or_404(token)
    if annotator.consented_at is None:
        return redirect("annotations:invite", token=token)
    if closed := _closed_page(request, annotator):
        return closed
    error = None
    if request.method == "POST":
        try:
            assignment_id = int(request.POST.get("assignment", ""))
        except ValueError:
            raise Http404("No such pair.") from None
        try:
            services.submit_rating(
                annotator=annotator,
                assignment_id=assignment_id,
                left_score=request.POST.get("left"),
                right_score=request.POST.get("right"),
            )
        except Assignment.DoesNotExist:
            raise Http404("No such pair.") from None
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("annotations:rate", token=token)
    assignment = selectors.next_assignment(annotator=annotator)
    if assignment is None:
        services.finish_if_complete(annotator=annotator)
        return redirect("annotations:done", token=token)
    services.mark_shown(assignment=assignment)
    progress = selectors.progress(annotator=annotator)
    context = {
        "annotator": annotator,
        "study": annotator.study,
        "assignment": assignment,
        "prompt": assignment.pair.prompt.text,
        "position": progress.done + 1,
        "total": progress.total,
        "error": error,
        "scores": range(1, 11),
    }
    return render(request, "annotations/rate.html", context, status=400 if error else 200)


@require_GET
def image(request: HttpRequest, token: str, order: int, side: str) -> HttpResponse:
    """One image of one of this annotator's pairs, by its place on screen; nothing names the arm."""
    annotator = _annotator_or_404(token)
    assignment = (
        Assignment.objects.filter(annotator=annotator, order=order).select_related("pair__job").first()
    )
    if assignment is None or assignment.pair.job is None or side not in ("left", "right"):
        raise Http404("No such image.")
    job = assignment.pair.job
    ours_here = assignment.ours_on_left == (side == "left")
    name = job.ours_image if ours_here else job.baseline_image
    if not name or not default_storage.exists(name):
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    response = HttpResponse(data, content_type="image/png")
    # The same URL always names the same image, so the annotator's browser may keep it; shared caches may not.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@never_cache
@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    """The finish page with the completion code."""
    annotator = _annotator_or_404(token)
    if annotator.finished_at is None:
        annotator = services.finish_if_complete(annotator=annotator)
    if annotator.finished_at is None:
        return redirect("annotations:invite", token=token)
    return render(request, "annotations/done.html", {"annotator": annotator, "study": annotator.study})
