"""The annotator's pages: invite link (or open enrolment, or Prolific) → consent → rate pairs → completion code."""

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, sequence
from .image_views import image_url_maker
from .models import SCORE_MIN, Annotator, Assignment, Criterion, Study, new_token, takes_answers
from .services import binding, enrolment, leases, ratings
from .services.enrolment import StudyFull, TooManyEnrolments

logger = logging.getLogger(__name__)


def _annotator_or_404(token: str) -> Annotator:
    annotator = selectors.annotator_by_token(token)
    if annotator is None:
        raise Http404("No such invitation.")
    return annotator


def _closed_page(request: HttpRequest, annotator: Annotator) -> HttpResponse | None:
    """The page to show instead when the study does not take ratings now (a pilot's: when not ready or open)."""
    if takes_answers(annotator.study.status, pilot=annotator.is_pilot):
        return None
    return render(request, "annotations/not_open.html", {"study": annotator.study, "annotator": annotator}, status=403)


def _time_ran_out_page(request: HttpRequest, study: Study) -> HttpResponse:
    """The page of an annotator whose lease ended (``services.leases``): idle too long, or released."""
    return render(request, "annotations/time_ran_out.html", {"study": study}, status=410)


def _stop_page(request: HttpRequest, annotator: Annotator) -> HttpResponse | None:
    """Where an annotator goes instead of the rating pages: finished, screened out, out of time, or study not open."""
    if annotator.screened_out_at:
        return render(request, "annotations/screened_out.html", {"study": annotator.study, "annotator": annotator})
    if annotator.finished_at:
        return redirect("annotations:done", token=annotator.token)
    if leases.has_run_out(annotator):
        return _time_ran_out_page(request, annotator.study)
    return _closed_page(request, annotator)


@never_cache
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """The invite link: consent and instructions first, then the rating pages."""
    annotator = _annotator_or_404(token)
    if stop := _stop_page(request, annotator):
        return stop
    if annotator.consented_at:
        return redirect("annotations:rate", token=token)
    context = {"annotator": annotator, "study": annotator.study}
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render(
                request, "annotations/consent.html", {**context, "error": "Tick the box to take part."}, status=400
            )
        try:
            enrolment.give_consent(annotator=annotator)
        except StudyFull:
            return render(request, "annotations/full.html", context, status=403)
        except leases.TimeRanOut:
            return _time_ran_out_page(request, annotator.study)
        except ValidationError as exc:  # the study cannot lay out a sequence (e.g. too few pairs for its checks)
            # the reason is for the researchers (the log): it may describe the study's design
            logger.error(
                "Annotator %s of study %r cannot start: %s", annotator.pk, annotator.study.slug, " ".join(exc.messages)
            )
            return render(request, "annotations/cannot_start.html", context, status=503)
        return redirect("annotations:rate", token=token)
    return render(request, "annotations/consent.html", context)


def image_label(index: int) -> str:
    """What the page calls the image in place ``index`` (from 0): Image A, Image B, ..."""
    return f"Image {chr(ord('A') + index)}"


def _wants_json(request: HttpRequest) -> bool:
    """Whether the rating page's script sent the request: it asks for JSON first (a browser's form, for HTML)."""
    return request.META.get("HTTP_ACCEPT", "").startswith("application/json")


def _show_next(*, token: str, annotator_id: int, started: bool, ahead: sequence.Ahead | None = None) -> dict | None:
    """Stamp the annotator's next unanswered pair as shown and describe it; None when none is left.

    The description is what the page shows (and what its script receives after a submit): the assignment, prompt,
    progress, the two images' links, and the links of the pair after it, for the browser to preload. ``ahead``:
    the annotator's unanswered assignments if just read.
    """
    ahead = ahead or sequence.ahead(annotator_id=annotator_id)
    if not ahead.upcoming:
        return None
    current = ahead.upcoming[0]
    if not current.shown:
        sequence.mark_shown(assignment_id=current.assignment_id, annotator_id=annotator_id, started=started)

    image_url = image_url_maker(token)

    def links(upcoming: sequence.Upcoming) -> dict[str, str]:
        return {place: image_url(upcoming.order, place, name) for place, name in upcoming.images.items()}

    return {
        "assignment": current.assignment_id,
        "prompt": current.prompt,
        "position": ahead.answered + 1,
        "total": ahead.total,
        "images": links(current),
        "preload": [link for upcoming in ahead.upcoming[1:] for link in links(upcoming).values()],
    }


def _next_place(request: HttpRequest, annotator: Annotator) -> HttpResponse:
    """Where an annotator goes when the rating pages have nothing to show: a page, or a redirect to one."""
    annotator = ratings.finish_if_complete(annotator_id=annotator.pk)
    return _stop_page(request, annotator) or redirect("annotations:invite", token=annotator.token)


def _submit_posted(request: HttpRequest, annotator_id: int, design: sequence.Design | None) -> ratings.SubmitResult:
    """Store the posted scores for the posted assignment; 404 unless it is one of this annotator's. ``design``: the
    study's, when read already (``sequence.Rater.design``).

    Raises ``ValidationError`` for a bad score, and ``leases.TimeRanOut``, as ``ratings.submit_rating`` does.
    """
    try:
        return ratings.submit_rating(
            annotator_id=annotator_id,
            assignment_id=int(request.POST.get("assignment", "")),
            scores=request.POST,
            design=design,
        )
    except (ValueError, Assignment.DoesNotExist):
        raise Http404("No such pair.") from None


@never_cache
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, token: str) -> HttpResponse:
    """Show the next unanswered pair; a POST stores its scores once and moves on.

    A plain form POST redirects to this page again. The page's script posts the same form asking for JSON
    (``_submit_from_script``), so a rating costs one request besides its images.
    """
    if request.method == "POST" and _wants_json(request):
        return _submit_from_script(request, token)
    annotator = _annotator_or_404(token)
    if annotator.consented_at is None:
        return redirect("annotations:invite", token=token)
    if stop := _stop_page(request, annotator):
        return stop
    error = None
    criteria = list(annotator.study.criteria.all())
    if request.method == "POST":
        try:
            _submit_posted(request, annotator.pk, None)
        except leases.TimeRanOut:
            return _time_ran_out_page(request, annotator.study)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("annotations:rate", token=token)
    pair = _show_next(token=token, annotator_id=annotator.pk, started=annotator.started_at is not None)
    if pair is None:
        return _next_place(request, annotator)
    pairwise = annotator.study.task == Study.Task.PAIRWISE
    context = {
        "annotator": annotator,
        "study": annotator.study,
        "criteria": criteria,
        "pair": pair,
        "figures": [
            (place, image_label(index), link, [] if pairwise else _scales(place, criteria))
            for index, (place, link) in enumerate(pair["images"].items())
        ],
        "choices": _choices(criteria, ties=annotator.study.allow_ties) if pairwise else [],
        "highest": max(criterion.scale_points for criterion in criteria),
        "unit": "Pair" if len(pair["images"]) == 2 else "Set",
        "pairwise": pairwise,
        "error": error,
    }
    return render(request, "annotations/rate.html", context, status=400 if error else 200)


def _scales(place: str, criteria: list[Criterion]) -> list[dict]:
    """What the page shows under a place's image: a scale for each criterion, with its form field and scores."""
    return [
        {
            "criterion": criterion,
            "field": ratings.score_field(place, criterion.key, first=position == 0),
            "scores": range(SCORE_MIN, criterion.scale_points + 1),
        }
        for position, criterion in enumerate(criteria)
    ]


#: A pairwise screen's answers as the page offers them: (value, label, key), in the order they stand.
CHOICE_OPTIONS = (("left", "Image A", "1"), ("tie", "Equally good", "0"), ("right", "Image B", "2"))


def _choices(criteria: list[Criterion], *, ties: bool) -> list[dict]:
    """What a pairwise screen shows under its two images: a choice per criterion, with its form field and answers
    (the tie where the study allows it)."""
    options = [option for option in CHOICE_OPTIONS if ties or option[0] != "tie"]
    return [
        {"criterion": criterion, "field": ratings.choice_field(criterion.key, first=position == 0), "options": options}
        for position, criterion in enumerate(criteria)
    ]


def _submit_from_script(request: HttpRequest, token: str) -> JsonResponse:
    """A submit from the rating page's script: the next pair (as ``_show_next`` describes it) in ``{"pair": ...}``,
    or ``{"redirect": url}`` when the annotator is to leave the rating pages (the rating page then says why, e.g.
    that its time ran out), or ``{"error": message}`` (status 400) for a bad score. Reads and writes through
    ``sequence``: four short queries (five on the first pair).
    """
    rater = sequence.rater(token)
    if rater is None:
        raise Http404("No such invitation.")
    if rater.finished and not rater.screened_out:  # e.g. the twin of a double submit finished the annotator
        return JsonResponse({"redirect": _finish_url(_annotator_or_404(token))})
    if not rater.may_rate:
        return JsonResponse({"redirect": _rate_url(token)})  # the rating page says why
    try:
        result = _submit_posted(request, rater.annotator_id, rater.design)
    except leases.TimeRanOut:  # released while the answer was on its way
        return JsonResponse({"redirect": _rate_url(token)})
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    if not (result.screened_out or result.finished):
        if pair := _show_next(token=token, annotator_id=rater.annotator_id, started=rater.started, ahead=result.ahead):
            return JsonResponse({"pair": pair})
    annotator = ratings.finish_if_complete(annotator_id=rater.annotator_id)
    finished = annotator.finished_at and not annotator.screened_out_at
    return JsonResponse({"redirect": _finish_url(annotator) if finished else _rate_url(token)})


def _rate_url(token: str) -> str:
    return reverse("annotations:rate", kwargs={"token": token})


@never_cache
@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    """The finish page with the completion code, or the study's completion URL (e.g. Prolific's) with it."""
    annotator = _annotator_or_404(token)
    if annotator.finished_at is None:
        annotator = ratings.finish_if_complete(annotator_id=annotator.pk)
    if annotator.screened_out_at:
        return render(request, "annotations/screened_out.html", {"study": annotator.study, "annotator": annotator})
    if annotator.finished_at is None:
        return redirect("annotations:invite", token=token)
    if annotator.study.completion_url and not annotator.is_pilot:
        return redirect(_finish_url(annotator))
    return render(request, "annotations/done.html", {"annotator": annotator, "study": annotator.study})


def _finish_url(annotator: Annotator) -> str:
    """Where a finished annotator goes: the study's completion URL (e.g. Prolific's) with the code, or the done page
    (always, for a pilot)."""
    if annotator.study.completion_url and not annotator.is_pilot:
        return with_query(annotator.study.completion_url, cc=annotator.completion_code)
    return reverse("annotations:done", kwargs={"token": annotator.token})


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query string (replacing values of the same name)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in params]
    return urlunsplit(parts._replace(query=urlencode(query + list(params.items()))))


def client_address(request: HttpRequest) -> str:
    """The client's network address: ``REMOTE_ADDR``, or behind ``EVALSITE_TRUSTED_PROXIES`` reverse proxies the
    address the outermost of them saw (X-Forwarded-For counted from the right: what a client writes there itself
    stands further left and is never read)."""
    proxies = settings.EVALSITE_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _browser_cookie(request: HttpRequest, study: Study) -> str | None:
    """The verified value of the browser's cookie for ``study`` (``services.binding``), or None."""
    return request.get_signed_cookie(
        binding.cookie_name(study.pk), default=None, salt=binding.COOKIE_SALT, max_age=binding.COOKIE_MAX_AGE
    )


def _bind_browser(request: HttpRequest, response: HttpResponse, annotator: Annotator) -> HttpResponse:
    """Give the browser the signed cookie that binds it to ``annotator``."""
    response.set_signed_cookie(
        binding.cookie_name(annotator.study_id),
        binding.cookie_value(annotator),
        salt=binding.COOKIE_SALT,
        max_age=binding.COOKIE_MAX_AGE,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


def _too_many_page(request: HttpRequest, study: Study, exc: ValidationError) -> HttpResponse:
    return render(request, "annotations/too_many.html", {"study": study, "error": " ".join(exc.messages)}, status=429)


@never_cache
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, enrolment_token: str) -> HttpResponse:
    """The open enrolment link: a POST creates an annotator, bound to the browser by its cookie, and starts it."""
    study = selectors.study_by_enrolment_token(enrolment_token)
    if study is None:
        raise Http404("No such study.")
    cookie = _browser_cookie(request, study)
    if remembered := binding.annotator_of(study, cookie):
        return redirect("annotations:invite", token=remembered.token)
    if request.method == "POST":
        try:
            annotator = enrolment.enrol(
                study=study,
                source=Annotator.Source.OPEN,
                external_id=_join_attempt_id(request.POST.get("attempt", "")),
                cookie=cookie,
                address=client_address(request),
            )
        except TooManyEnrolments as exc:
            return _too_many_page(request, study, exc)
        except ValidationError as exc:
            return render(
                request, "annotations/join.html", {"study": study, "error": " ".join(exc.messages)}, status=403
            )
        return _bind_browser(request, redirect("annotations:invite", token=annotator.token), annotator)
    return render(request, "annotations/join.html", {"study": study, "attempt": new_token()})


_JOIN_ATTEMPT = re.compile(r"[A-Za-z0-9_-]{43}")  # what new_token() makes: 256 random bits


def _join_attempt_id(attempt: str) -> str:
    """The external id of the annotator a join form makes, from the random ``attempt`` the form carries: a form
    posted twice (a double click, before the session cookie is back) gets the same annotator. A keyed hash, so
    that exports do not carry the value that would join as that annotator; "" for a malformed value."""
    if not _JOIN_ATTEMPT.fullmatch(attempt):
        return ""
    return "open-" + salted_hmac("annotations.join-attempt", attempt).hexdigest()[:16]


PROLIFIC_FIELDS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
#: The longest Prolific field taken: PROLIFIC_PID is stored as the annotator's ``external_id``.
PROLIFIC_FIELD_MAX = Annotator._meta.get_field("external_id").max_length


def _has_control_character(text: str) -> bool:
    """NUL (which PostgreSQL cannot store) or another control character: never part of a Prolific id."""
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


@never_cache
@require_GET
def prolific(request: HttpRequest, enrolment_token: str) -> HttpResponse:
    """Entry from Prolific: the same PROLIFIC_PID returns to the same annotator and its progress, from the browser
    it is bound to or with its current attempt's ids (``services.binding``); anyone else is refused (409)."""
    study = selectors.study_by_enrolment_token(enrolment_token)
    if study is None:
        raise Http404("No such study.")
    missing = [name for name in PROLIFIC_FIELDS if not request.GET.get(name, "").strip()]
    if missing:
        return render(
            request,
            "annotations/join.html",
            {"study": study, "error": f"The link lacks {', '.join(missing)}; please open the study from Prolific."},
            status=400,
        )
    garbled = [name for name in PROLIFIC_FIELDS if _has_control_character(request.GET[name])]
    if garbled:
        return render(
            request,
            "annotations/join.html",
            {
                "study": study,
                "error": f"The link's {', '.join(garbled)} holds a character no Prolific id has; "
                "please open the study from Prolific.",
            },
            status=400,
        )
    too_long = [name for name in PROLIFIC_FIELDS if len(request.GET[name].strip()) > PROLIFIC_FIELD_MAX]
    if too_long:
        return render(
            request,
            "annotations/join.html",
            {
                "study": study,
                "error": f"The link's {', '.join(too_long)} {'is' if len(too_long) == 1 else 'are'} longer than "
                f"{PROLIFIC_FIELD_MAX} characters, which no Prolific id is; please open the study from Prolific.",
            },
            status=400,
        )
    entry = {name: request.GET[name].strip() for name in PROLIFIC_FIELDS}
    try:
        annotator = enrolment.enrol(
            study=study,
            source=Annotator.Source.PROLIFIC,
            external_id=entry["PROLIFIC_PID"],
            entry=entry,
            cookie=_browser_cookie(request, study),
            address=client_address(request),
        )
    except binding.OtherBrowser as exc:
        return render(
            request, "annotations/other_browser.html", {"study": study, "error": " ".join(exc.messages)}, status=409
        )
    except TooManyEnrolments as exc:
        return _too_many_page(request, study, exc)
    except ValidationError as exc:
        return render(request, "annotations/join.html", {"study": study, "error": " ".join(exc.messages)}, status=403)
    if leases.has_run_out(annotator):
        return _bind_browser(request, _time_ran_out_page(request, study), annotator)
    return _bind_browser(request, redirect("annotations:invite", token=annotator.token), annotator)
