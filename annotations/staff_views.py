"""Staff-only pages: monitoring a study, previewing its pairs labelled, and the labelled images."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .models import ImagePair, Study
from .selectors import monitor


@staff_member_required
@require_GET
def monitoring(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    return render(request, "annotations/staff/monitor.html", {"study": study, "monitor": monitor(study=study)})


@staff_member_required
@require_GET
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Every pair side by side, labelled by arm, for the researcher to check before opening the study."""
    study = get_object_or_404(Study, slug=slug)
    pairs = study.pairs.select_related("prompt", "job").order_by("prompt__position")
    return render(request, "annotations/staff/preview.html", {"study": study, "pairs": pairs})


@staff_member_required
@require_GET
def pair_image(request: HttpRequest, pair_id: int, arm: str) -> HttpResponse:
    pair = get_object_or_404(ImagePair.objects.select_related("job"), pk=pair_id)
    if pair.job is None or arm not in ("baseline", "ours"):
        raise Http404("No such image.")
    name = pair.job.baseline_image if arm == "baseline" else pair.job.ours_image
    if not name or not default_storage.exists(name):
        raise Http404("Not generated yet.")
    with default_storage.open(name, "rb") as handle:
        return HttpResponse(handle.read(), content_type="image/png")
