"""The Content-Security-Policy's parts that depend on the environment or the page.

Images: with ``EVALSITE_IMAGE_DELIVERY=presigned`` the site answers an image request with a redirect to object
storage, and a browser checks a redirect's target against ``img-src`` too, so the storage's origin is allowed; with
``proxy`` the site sends images itself and ``'self'`` is enough. ``EVALSITE_CSP_IMAGE_SOURCES`` (comma-separated
origins, e.g. a CDN in front of the bucket) adds more.

Inert responses: a PNG, JSON or CSV answer runs nothing and loads nothing (``X-Content-Type-Options: nosniff`` keeps
a browser from reading it as a page), so it gets no policy; building one for each costs as much as serving an
annotator's image.

Form targets: ``form-action 'self'`` also holds for the redirects that follow a form's submission, and a study's
completion URL (Prolific's, say) is such a redirect's end when the rating page's last answer is posted as a plain
form (without script, or when the background submit fails). A page whose form may end there names the URL while it
renders (``allow_form_target``, the ``{% form_target %}`` tag), and ``CSPMiddleware`` adds its origin to that
response's ``form-action``.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts

from evalsite import storage_config

_FORM_TARGETS = "_evalsite_form_targets"

#: Content types a browser never runs script or loads anything from: no policy is built for them.
INERT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "application/json", "text/csv"})


def _storage_origins(environ: Mapping[str, str]) -> list[str]:
    """The origins presigned URLs can have, by endpoint and addressing style (both styles for ``auto``)."""
    options = storage_config.s3_options(environ)
    bucket, endpoint, style = options["bucket_name"], options["endpoint_url"], options["addressing_style"]
    if endpoint:
        parts = urlsplit(endpoint)
        hosts = {"path": [parts.netloc], "virtual": [f"{bucket}.{parts.netloc}"]}
        scheme = parts.scheme
    else:  # AWS itself: the global and the regional endpoints
        region = options["region_name"]
        domains = ["s3.amazonaws.com", *([f"s3.{region}.amazonaws.com"] if region else [])]
        hosts = {"path": domains, "virtual": [f"{bucket}.{domain}" for domain in domains]}
        scheme = "https"
    chosen = hosts[style] if style else hosts["virtual"] + hosts["path"]
    return [f"{scheme}://{host}" for host in chosen]


def image_sources(environ: Mapping[str, str]) -> list[str]:
    """``img-src``'s sources besides ``'self'``."""
    extra = [source.strip() for source in environ.get("EVALSITE_CSP_IMAGE_SOURCES", "").split(",") if source.strip()]
    if storage_config.image_delivery(environ) != "presigned":
        return extra
    return _storage_origins(environ) + extra


def allow_form_target(request, url: str) -> None:
    """Let this response's forms lead (through redirects) to ``url``'s origin: an http(s) URL with a host only."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        targets = getattr(request, _FORM_TARGETS, None)
        if targets is None:
            targets = set()
            setattr(request, _FORM_TARGETS, targets)
        targets.add(f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}")


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, with the form targets the page allowed (``allow_form_target``) in ``form-action``,
    and no policy on inert responses (``INERT_TYPES``)."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").partition(";")[0].strip().lower() in INERT_TYPES:
            return response
        return super().process_response(request, response)

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        targets = getattr(request, _FORM_TARGETS, None)
        if targets:
            update = dict(parts.update or {})
            update["form-action"] = [*update.get("form-action", []), *sorted(targets)]
            parts.update = update
        return parts
