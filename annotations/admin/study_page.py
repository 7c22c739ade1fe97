"""What the study's admin page shows above its form: where the study stands (its steps, its next action and why that
action may not be taken yet, the generation's progress), the links a researcher hands out, and its pilot runs."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Min, Q
from django.urls import reverse

from generation.models import PairJob
from generation.selectors import JobProgress, format_duration, job_progress

from .. import access
from ..models import ConditionImage, ImagePair, Study
from ..selectors import PilotRuns, missing_condition_images, pilot_runs
from ..services import pilots, studies
from ..views import with_query
from .images import IMPORT_URL_NAME
from .pilots import DELETE_URL_NAME, PREVIEW_URL_NAME
from .prompts import UPLOAD_URL_NAME

#: Prolific's own placeholders, which it replaces with each participant's ids.
PROLIFIC_QUERY = "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
TRANSITION_URL_NAME = "annotations_study_step"
#: The URL name of the study's State section alone, which the page's script fetches again while pairs are generated.
STATE_URL_NAME = "annotations_study_state"
#: Seconds between the page's looks at its State section while pairs are generated.
STATE_REFRESH_SECONDS = 3


def generation_progress(study: Study) -> JobProgress:
    """The study's pairs by job status, with the time left at the pace of the jobs made for this study: jobs it
    reused from another study were done before it started, and would make the pace look slower than it is."""
    own_jobs = ImagePair.objects.filter(study=study).values("job_id")
    resized = ConditionImage.objects.filter(prompt__study=study, job__isnull=False).values("job_id")
    jobs = PairJob.objects.filter(Q(pk__in=own_jobs) | Q(pk__in=resized))
    counts = job_progress(jobs)
    if not (counts.running or counts.pending):
        return counts
    pairs = ImagePair.objects.filter(job__in=jobs).order_by()
    first_pair = dict(pairs.values("job_id").annotate(first=Min("pk")).values_list("job_id", "first"))
    own_pairs = set(study.pairs.values_list("pk", flat=True))
    own = [job for job, first in first_pair.items() if first in own_pairs]
    eta = job_progress(PairJob.objects.filter(pk__in=own)).eta
    return JobProgress(counts.done, counts.failed, counts.running, counts.pending, eta)


def describe_progress(progress: JobProgress) -> str:
    """The progress in words: "38 of 50 pairs generated, 2 failed, 10 running, 0 waiting, about 3 min 10 s left"."""
    parts = [f"{progress.done} of {progress.total} pairs generated"]
    if progress.failed:
        parts.append(f"{progress.failed} failed")
    if progress.running or progress.pending:
        parts.append(f"{progress.running} running, {progress.pending} waiting")
        parts.append(
            f"about {format_duration(progress.eta)} left"
            if progress.eta is not None
            else "time left known once the first pair is done"
        )
    return ", ".join(parts)


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True)
class Action:
    """A button that moves the study on: ``step`` names the admin view's step, ``reason`` says why it cannot be
    taken now (empty when it can)."""

    step: str
    label: str
    url: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class StudyState:
    steps: list[Step]
    status: str
    imported: bool
    progress: JobProgress | None
    progress_text: str
    actions: list[Action] = field(default_factory=list)
    note: str = ""

    @property
    def refreshing(self) -> bool:
        """Whether the section changes by itself: pairs are being generated or wait for a worker."""
        return self.progress is not None and self.progress.running + self.progress.pending > 0


STEPS = [Study.Status.DRAFT, Study.Status.GENERATING, Study.Status.READY, Study.Status.OPEN, Study.Status.CLOSED]


def _reason(check) -> str:
    """The message of the ValidationError ``check()`` raises, or ""."""
    try:
        check()
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def _generate_reason(study: Study) -> str:
    if study.model_id is None:
        return "Generate needs a model: choose one under Images and save."
    prompts = study.prompts.count()
    if not prompts:
        return "Generate needs prompts: add them below, or upload a file with Upload prompts."
    return _reason(lambda: studies.check_attention_checks(study=study, pairs=prompts)) or _reason(
        lambda: studies.check_resized_condition(study=study)
    )


def _open_reason(study: Study, progress: JobProgress) -> str:
    if progress.total == 0 or progress.done < progress.total:
        reason = f"Open needs every pair generated: {progress.done} of {progress.total} done"
        if progress.failed:
            reason += f", {progress.failed} failed (Generate queues the failed ones again)"
        return reason + "."
    if absent := missing_condition_images(study_id=study.pk):
        lacking = "; ".join(f"{name}: {count} of them" for name, count in absent.items())
        return f"Open needs an image of every condition for every prompt; missing ({lacking}). Import images."
    return _reason(lambda: studies.check_attention_checks(study=study, pairs=study.prompts.count()))


def study_state(study: Study, user) -> StudyState:
    """Where ``study`` stands and what ``user`` can do next; an action ``user`` may not take is shown with why."""
    imported = study.pairs.filter(job__isnull=True).exists()
    current = STEPS.index(study.status)
    steps = [
        Step(str(status.label), "current" if index == current else "done" if index < current else "todo")
        for index, status in enumerate(STEPS)
    ]
    if imported:
        return StudyState(
            steps,
            study.status,
            True,
            None,
            "",
            note="This study holds imported ratings (import_ratings): it has no images to generate, nor annotators "
            "to open to.",
        )
    progress = generation_progress(study) if study.status != Study.Status.DRAFT else None
    progress_text = describe_progress(progress) if progress is not None else ""

    def action(step: str, label: str, reason: str) -> Action:
        url = reverse(f"admin:{TRANSITION_URL_NAME}", args=[study.pk, step])
        if not user.has_perm(access.RUN_STUDY):
            reason = f"{label} needs the permission {access.RUN_STUDY}, which your account does not have."
        return Action(step, label, url, reason)

    actions = []
    if study.status == Study.Status.DRAFT:
        actions.append(action("generate", "Generate", _generate_reason(study)))
    elif study.status == Study.Status.GENERATING:
        if progress.failed:
            actions.append(action("generate", "Generate the failed pairs again", ""))
        actions.append(action("open", "Open", _open_reason(study, progress)))
    elif study.status == Study.Status.READY:
        actions.append(action("open", "Open", _open_reason(study, progress)))
    elif study.status == Study.Status.OPEN:
        actions.append(action("close", "Close", ""))
    else:
        actions.append(action("open", "Open again", _open_reason(study, progress)))
    return StudyState(steps, study.status, False, progress, progress_text, actions)


def absolute_url(request, path: str) -> str:
    """``path`` on the site's public address (SITE_URL), or on the address of ``request`` while it is unset."""
    if settings.SITE_URL:
        return settings.SITE_URL + path
    return request.build_absolute_uri(path)


@dataclass(frozen=True)
class Link:
    key: str
    label: str
    url: str
    note: str = ""
    href: str = ""  # where the label itself leads, for the researcher's own pages


def handout_links(study: Study, request) -> list[Link]:
    """The links and texts a researcher hands out or pastes into Prolific, each absolute."""
    enrol = absolute_url(request, reverse("annotations:join", kwargs={"enrolment_token": study.enrolment_token}))
    prolific = absolute_url(request, reverse("annotations:prolific", kwargs={"enrolment_token": study.enrolment_token}))
    invites = reverse("admin:annotations_study_invites", args=[study.pk])
    invites_csv = reverse("admin:annotations_study_invites_csv", args=[study.pk])
    closed = "" if study.enrolment_open else "Enrolment is closed: tick “Enrolment open” below to let people join."
    links = [
        Link("enrol", "Open enrolment link", enrol, closed),
        Link(
            "invites",
            "Invite links",
            absolute_url(request, invites),
            "Creates personal links, one per annotator.",
            invites,
        ),
        Link(
            "invites-csv",
            "Invite links (CSV)",
            absolute_url(request, invites_csv),
            "Every personal link, to hand out one each.",
            invites_csv,
        ),
        Link(
            "prolific",
            "Prolific study URL",
            prolific + PROLIFIC_QUERY,
            "Paste as the study URL in Prolific; keep “URL parameters” as they are." + (f" {closed}" if closed else ""),
        ),
    ]
    if study.completion_url:
        code = study.completion_code
        links.append(
            Link(
                "completion-url",
                "Completion URL",
                with_query(study.completion_url, cc=code) if code else study.completion_url,
                "Where finishers are sent, with their code as cc=; Prolific's is "
                "https://app.prolific.com/submissions/complete.",
            )
        )
    else:
        links.append(
            Link(
                "completion-url",
                "Completion URL",
                "",
                "None set: finishers see their code on a page of this site. For Prolific, set the completion URL "
                "below to https://app.prolific.com/submissions/complete.",
            )
        )
    if study.completion_code:
        links.append(
            Link("completion-code", "Completion code", study.completion_code, "Paste as the code in Prolific.")
        )
    else:
        links.append(
            Link(
                "completion-code",
                "Completion code",
                "",
                "None set: each finisher gets a code of their own. Prolific gives one code for everyone: set it below.",
            )
        )
    return links


@dataclass(frozen=True)
class PilotPanel:
    """The study page's pilot runs: ``reason`` says why *Preview as annotator* and the pilot link cannot be used now
    ("" when they can); a user without ``run_study`` gets neither the button nor the link (``permitted``)."""

    permitted: bool
    reason: str
    link: str
    preview_url: str
    delete_url: str
    runs: PilotRuns

    @property
    def summary(self) -> str:
        """The pilot runs so far in words, e.g. "2 pilot runs so far, 1 finished, 14 answers"."""
        runs = self.runs
        if not runs.runs:
            return "No pilot runs yet."
        text = f"{runs.runs} pilot run{'' if runs.runs == 1 else 's'} so far, {runs.finished} finished, "
        text += f"{runs.answers} answer{'' if runs.answers == 1 else 's'}"
        return text + ": none of them counts in the study's quotas, monitor, exports or results."


def pilot_panel(study: Study, request) -> PilotPanel | None:
    """What the study page shows of pilot runs for the user of ``request``; None for a study of imported ratings
    (no images to try)."""
    if study.pairs.filter(job__isnull=True).exists():
        return None
    permitted = request.user.has_perm(access.RUN_STUDY)
    if not permitted:
        reason = f"Pilot runs need the permission {access.RUN_STUDY}, which your account does not have."
    else:
        reason = _reason(lambda: pilots.check_pilot_allowed(study))
    link = reverse("annotations:pilot", kwargs={"pilot_token": study.pilot_token})
    return PilotPanel(
        permitted=permitted,
        reason=reason,
        link=absolute_url(request, link) if permitted else "",
        preview_url=reverse(f"admin:{PREVIEW_URL_NAME}", args=[study.pk]),
        delete_url=reverse(f"admin:{DELETE_URL_NAME}", args=[study.pk]),
        runs=pilot_runs(study=study),
    )


def pages(study: Study) -> list[tuple[str, str]]:
    """The researcher's pages of the study, as (label, path)."""
    return [
        ("Monitor", reverse("annotations:monitor", args=[study.slug])),
        ("Results", reverse("analysis:results", args=[study.slug])),
        ("Preview pairs", reverse("annotations:preview", args=[study.slug])),
        ("Upload prompts", reverse(f"admin:{UPLOAD_URL_NAME}", args=[study.pk])),
        ("Import images", reverse(f"admin:{IMPORT_URL_NAME}", args=[study.pk])),
        ("Invite links", reverse("admin:annotations_study_invites", args=[study.pk])),
        ("Invite links (CSV)", reverse("admin:annotations_study_invites_csv", args=[study.pk])),
    ]


def state_context(study: Study, request) -> dict:
    """What the State section (``includes/state_panel.html``) shows, on the page and when fetched again."""
    return {
        "state": study_state(study, request.user),
        "state_url": reverse(f"admin:{STATE_URL_NAME}", args=[study.pk]),
        "refresh_seconds": STATE_REFRESH_SECONDS,
    }


def page_context(study: Study, request) -> dict:
    """The template context of the study page's panel."""
    return {
        **state_context(study, request),
        "handout": handout_links(study, request),
        "site_url": settings.SITE_URL,
        "request_origin": request.build_absolute_uri("/").rstrip("/"),
        "study_pages": pages(study),
        "pilot": pilot_panel(study, request),
    }
