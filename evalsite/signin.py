"""The staff side's refusals in the admin's look: the page a locked-out sign-in gets, and the 403 page."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKOUT_TEMPLATE = "admin/locked_out.html"
PERMISSION_DENIED_TEMPLATE = "403.html"


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The page django-axes answers a locked-out sign-in with: 429, saying who is locked out, for how long and how
    to be let in sooner."""
    from axes.helpers import get_client_username, get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "cool_off_minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=429)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """The 403 page (``handler403``): what was refused and what to ask for, in the admin's look."""
    reason = str(exception) if exception is not None and str(exception) else ""
    context = {**admin.site.each_context(request), "title": "Permission needed", "reason": reason}
    return render(request, PERMISSION_DENIED_TEMPLATE, context, status=403)
