"""The annotator's images: the pair images behind sealed links (see ``image_links``) and the study's examples."""

import mimetypes
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_safe

from . import image_links, selectors


def image_url_maker(token: str) -> Callable[[int, str, str], str]:
    """Makes the URLs of ``token``'s images: (order, side, storage name) → the image view's URL with the sealed
    link (see ``image_links``). One URL reversal for all of them."""
    prefix = reverse("annotations:image", kwargs={"token": token, "link": "x"}).removesuffix("x.png")
    return lambda order, side, name: f"{prefix}{image_links.seal(token=token, order=order, side=side, name=name)}.png"


def _image_response(name: str, *, head: bool = False) -> HttpResponse:
    """The image stored under ``name``: its bytes (proxy) or a redirect to a short-lived presigned URL.

    Either way the browser learns only the opaque name: no header, file name or metadata tells the arm. For a HEAD
    request (``head``) the same answer without the body: the stored size is read instead of the bytes.
    """
    if settings.EVALSITE_IMAGE_DELIVERY == "presigned":
        response = HttpResponseRedirect(default_storage.url(name))
        # Each redirect names a fresh URL; the browser may reuse it only while it is surely still valid.
        expire = getattr(default_storage, "querystring_expire", 0)
        response["Cache-Control"] = f"private, max-age={max(0, min(3600, expire // 2))}"
        return response
    try:
        if head:
            data, size = b"", default_storage.size(name)
        else:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
            size = len(data)
    except FileNotFoundError:
        raise Http404("No such image.") from None
    response = HttpResponse(data, content_type="image/png")
    response["Content-Length"] = str(size)
    # The same URL always names the same image, so the annotator's browser may keep it; shared caches may not.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_safe
def image(request: HttpRequest, token: str, link: str) -> HttpResponse:
    """One image of one of this annotator's pairs, named by a sealed link, while the study is open (one query);
    nothing names the arm. HEAD answers as GET does, without the body."""
    name = image_links.open_link(token=token, link=link)
    if not name or not image_links.study_open(token) or not default_storage.exists(name):
        raise Http404("No such image.")
    return _image_response(name, head=request.method == "HEAD")


@require_safe
def example(request: HttpRequest, token: str, end: str) -> HttpResponse:
    """The study's example image for one end of the scale ("low" = 1, "high" = 10)."""
    annotator = selectors.annotator_by_token(token)
    if annotator is None:
        raise Http404("No such invitation.")
    field = {"low": annotator.study.example_low_image, "high": annotator.study.example_high_image}.get(end)
    if not field:
        raise Http404("No such example.")
    try:
        with field.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("No such example.") from None
    response = HttpResponse(data, content_type=mimetypes.guess_type(field.name)[0] or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    return response
