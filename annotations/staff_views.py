"""Staff-only pages: monitoring a study (and the JSON its page polls), previewing its pairs labelled, and the
labelled images.

Each needs its permission (403 without) and shows only studies the user may see (404 for another's)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import access, selectors
from .models import ImagePair
from .selectors import annotator_progress, live_monitor


@staff_member_required
@require_GET
def monitoring(request: HttpRequest, slug: str) -> HttpResponse:
    """The monitoring page; its script refreshes it from ``monitoring_data`` every few seconds. The study's pilot
    runs, which it counts nowhere, are listed apart (as at the page's loading)."""
    study = access.staff_study(request.user, slug, access.VIEW_STUDY)
    live = live_monitor(study=study)
    pilots = annotator_progress(study=study, speed_threshold=live.speed_threshold, pilots=True)
    paired = selectors.rating_design(study_id=study.pk).paired  # the seed's screen of two: sides, not places
    context = {"study": study, "monitor": live.monitor, "live": live, "pilots": pilots, "paired": paired}
    return render(request, "annotations/staff/monitor.html", context)


@staff_member_required
@require_GET
def monitoring_data(request: HttpRequest, slug: str) -> JsonResponse:
    """The monitoring page's data as JSON (``LiveMonitor.as_dict``)."""
    study = access.staff_study(request.user, slug, access.VIEW_STUDY)
    response = JsonResponse(live_monitor(study=study).as_dict())
    response["Cache-Control"] = "no-store"
    return response


@staff_member_required
@require_GET
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Every prompt's images side by side, labelled by condition, for the researcher to check before opening the
    study."""
    study = access.staff_study(request.user, slug, access.VIEW_PAIRS)
    pairs = study.pairs.select_related("prompt", "job").order_by("prompt__position")
    conditions = list(study.conditions.all())
    return render(request, "annotations/staff/preview.html", {"study": study, "pairs": pairs, "conditions": conditions})


@staff_member_required
@require_GET
def pair_image(request: HttpRequest, pair_id: int, arm: str) -> HttpResponse:
    """A pair's image of one condition of its study (``arm``: the condition's key), for the preview page."""
    access.require(request.user, access.VIEW_PAIRS)
    pairs = access.visible(ImagePair.objects.select_related("job"), request.user, "study")
    pair = get_object_or_404(pairs, pk=pair_id)
    name = selectors.condition_image_name(pair=pair, key=arm) if pair.job is not None else None
    if not name or not default_storage.exists(name):
        raise Http404("No such image, or not generated yet.")
    with default_storage.open(name, "rb") as handle:
        return HttpResponse(handle.read(), content_type="image/png")
