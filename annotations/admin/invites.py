"""Admin pages for a study's invite links: create N at once, and download them all as CSV."""

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from evalsite.csv_cells import neutralise

from .. import access
from ..models import Study
from ..services.enrolment import MAX_INVITES_AT_ONCE, create_annotators


class InviteForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=MAX_INVITES_AT_ONCE, label="Invite links to create")


def _study(model_admin, request, object_id, permission: str) -> Study:
    """The study the URL names, for a user with ``permission`` (403 without); 404 for an id that names none ("abc"
    included) or a study the user may not see."""
    access.require(request.user, permission)
    study = model_admin.get_object(request, unquote(object_id))
    if study is None:
        raise Http404(f"There is no {Study._meta.verbose_name} with id {object_id!r}.")
    return study


def invites_view(model_admin, request, object_id):
    """GET: the form; POST: create the links and go back to the study."""
    study = _study(model_admin, request, object_id, access.ADD_ANNOTATORS)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = create_annotators(study=study, count=form.cleaned_data["count"])
        model_admin.message_user(
            request, f"Created {len(created)} invite links; download them with “Invite links (CSV)”.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:annotations_study_change", args=[study.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Study._meta,
        "original": study,
        "title": f"Invite links for {study}",
        "form": form,
        "existing": study.annotators.filter(is_pilot=False).count(),
    }
    return TemplateResponse(request, "admin/annotations/study/invites.html", context)


def invites_csv_view(model_admin, request, object_id):
    """Every annotator of the study with its personal link, as CSV (pilot runs are not annotators to hand out to)."""
    study = _study(model_admin, request, object_id, access.VIEW_ANNOTATORS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["annotator", "source", "invite_url", "consented", "finished", "completion_code"])
    for annotator in study.annotators.filter(is_pilot=False).order_by("pk"):
        link = request.build_absolute_uri(reverse("annotations:invite", kwargs={"token": annotator.token}))
        writer.writerow(
            [
                neutralise(annotator.label),
                annotator.source,
                link,
                bool(annotator.consented_at),
                bool(annotator.finished_at),
                annotator.completion_code,
            ]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-invites.csv"'
    return response


def invite_paths(model_admin) -> list:
    """URL patterns for ``model_admin.get_urls``."""

    def wrap(view):
        return model_admin.admin_site.admin_view(lambda request, object_id: view(model_admin, request, object_id))

    return [
        path("<path:object_id>/invites/", wrap(invites_view), name="annotations_study_invites"),
        path("<path:object_id>/invites.csv", wrap(invites_csv_view), name="annotations_study_invites_csv"),
    ]
