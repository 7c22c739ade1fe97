"""The read-only JSON API: studies, their progress and their results, for a researcher's token.

A token acts as its user: an endpoint needs the permission the matching staff page needs (403 without) and sees
only the studies ``annotations.access`` lets the user see (another's study is a 404, as if there were none).
"""

import json
from typing import Literal

from csp.decorators import csp_update
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Status, Swagger
from ninja.errors import HttpError
from ninja.security import HttpBearer

from analysis.documents import render_results
from analysis.formats import FILE_NAMES
from annotations import access
from annotations.models import Study
from annotations.selectors import judgment_rows, live_monitor, tidy_rows, with_counts

from . import services
from .schemas import CriterionOut, JudgmentRow, Message, ProgressOut, RatingRow, StudyOut, Summary

DESCRIPTION = (
    "Studies, their progress and their results, read-only. Send a token made in the admin (*API tokens*) or with "
    "`manage.py create_api_token` as `Authorization: Bearer <token>`. A token acts as its user: it sees the studies "
    "the user owns or that are shared with them, and needs the permissions the staff pages need."
)


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``: the token's user, or None (a 401)."""

    def authenticate(self, request: HttpRequest, token: str):
        row = services.authenticate(token)
        if row is None:
            return None
        request.user = row.user
        return row.user


#: Swagger UI's stylesheet draws its select arrows as ``data:`` SVG images; the docs page (which shows the schema only,
#: no study data) allows those images and nothing else beyond the site's policy. Scripts and styles stay 'self'.
docs_policy = csp_update({"img-src": ["data:"]})

api = NinjaAPI(
    title="EvalSite API",
    version="1",
    description=DESCRIPTION,
    auth=BearerToken(),
    urls_namespace="api",
    docs=Swagger(settings={"defaultModelsExpandDepth": 0}),
    docs_decorator=docs_policy,
)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=403)


def _study(request, slug: str, permission: str) -> Study:
    """The study ``slug`` if the token's user may see it and holds ``permission``."""
    try:
        return access.staff_study(request.auth, slug, permission)
    except Http404:
        raise HttpError(404, f"There is no study {slug!r} that this token may see.") from None


ERRORS = {401: Message, 403: Message, 404: Message}


@api.get("/studies", response={200: list[StudyOut], 401: Message, 403: Message}, summary="The studies you may see")
def list_studies(request):
    access.require(request.auth, access.VIEW_STUDY)
    studies = (
        with_counts(access.visible_studies(request.auth))
        .prefetch_related("conditions", "criteria")
        .order_by("-created_at")
    )
    return [
        {
            "slug": study.slug,
            "title": study.title,
            "status": study.status,
            "created_at": study.created_at,
            "task": study.task,
            "counts": {
                "prompts": study.prompt_count,
                "pairs": study.pair_count,
                "annotators": study.annotator_count,
                "ratings": study.rating_count,
            },
            "conditions": [
                {"key": c.key, "name": c.name, "kind": c.kind, "reference": c.is_reference}
                for c in study.conditions.all()
            ],
            "criteria": [{name: getattr(c, name) for name in CriterionOut.model_fields} for c in study.criteria.all()],
        }
        for study in studies
    ]


@api.get(
    "/studies/{slug}/progress",
    response={200: ProgressOut, **ERRORS},
    summary="A study's progress, as its monitoring page shows it",
)
def study_progress(request, slug: str):
    study = _study(request, slug, access.VIEW_STUDY)
    return {"slug": study.slug, "status": study.status, **live_monitor(study=study).as_dict()}


@api.get(
    "/studies/{slug}/results",
    response={200: Summary, 409: Message, **ERRORS},
    summary="A study's results: summary.json, as export_results writes it",
)
def study_results(request, slug: str, exclusions: Literal["default", "on", "off"] = "default"):
    """The analysis of the study's ratings under documented keys (docs/results.md). ``exclusions``: apply the
    study's exclusion rules as its settings say (default), or not. A 409 says why there is none yet (e.g. too few
    ratings)."""
    study = _study(request, slug, access.EXPORT_STUDY)
    try:
        documents = render_results(
            slugs=[study.slug],
            formats=["json"],
            exclusions={"default": None, "on": True, "off": False}[exclusions],
        )
    except ValidationError as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    return json.loads(documents[FILE_NAMES["json"]])


@api.get(
    "/studies/{slug}/ratings",
    response={200: list[RatingRow], 409: Message, **ERRORS},
    summary="A study's tidy ratings: two rows per rating and criterion, as in the ratings CSV",
)
def study_ratings(request, slug: str):
    study = _study(request, slug, access.EXPORT_STUDY)
    if study.task == Study.Task.PAIRWISE:
        return Status(409, {"detail": f"Study {slug!r} is pairwise: its choices are at /studies/{slug}/judgments."})
    return list(tidy_rows(study=study))


@api.get(
    "/studies/{slug}/judgments",
    response={200: list[JudgmentRow], 409: Message, **ERRORS},
    summary="A pairwise study's tidy judgments: one row per choice and criterion, as in the judgments CSV",
)
def study_judgments(request, slug: str):
    study = _study(request, slug, access.EXPORT_STUDY)
    if study.task != Study.Task.PAIRWISE:
        return Status(409, {"detail": f"Study {slug!r} rates images: its ratings are at /studies/{slug}/ratings."})
    return list(judgment_rows(study=study))
