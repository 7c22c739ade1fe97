"""The admin of what annotators were shown and answered: pairs, annotators, assignments and ratings, kept as made."""

from django.contrib import admin, messages
from django.urls import reverse

from ..models import Annotator, ImagePair
from ..services import binding, leases
from .guards import KeepAnswersAdmin, ViewOnlyAdmin
from .scoping import StudyScopedAdmin

#: The study list filter: only the studies of the rows the user may see.
STUDY_FILTER = admin.RelatedOnlyFieldListFilter


class ImagePairAdmin(StudyScopedAdmin, ViewOnlyAdmin):
    """Pairs are made by "Generate the image pairs" (or ``import_ratings``) and are fixed: a pair added or changed
    by hand would be served without images, or move ratings to other images."""

    list_display = ("id", "study", "prompt", "job_status")
    list_filter = (("study", STUDY_FILTER),)
    list_select_related = ("study", "prompt", "job")

    @admin.display(description="Generation")
    def job_status(self, pair: ImagePair) -> str:
        return pair.job.get_status_display() if pair.job else "imported"


class AnnotatorAdmin(StudyScopedAdmin, KeepAnswersAdmin):
    list_display = (
        *("label", "study", "pilot_run", "consented_at", "finished_at", "release_reason", "completion_code"),
        "invite_link",
    )
    list_filter = (("study", STUDY_FILTER),)
    search_fields = ("external_id", "completion_code")
    readonly_fields = (
        "token",
        "consented_at",
        "started_at",
        "finished_at",
        "completion_code",
        "released_at",
        "release_reason",
        "invite_link",
    )
    actions = ["let_continue_from_new_browser", "mark_returned", "mark_timed_out"]

    def get_readonly_fields(self, request, obj=None):
        """An annotator's study is fixed once saved: its assignments and ratings belong to that study."""
        if obj is None:
            return self.readonly_fields
        return ("study", *self.readonly_fields)

    @admin.action(description="Let the participant continue from a new browser", permissions=["change"])
    def let_continue_from_new_browser(self, request, queryset) -> None:
        binding.let_continue_from_new_browser(annotators=queryset)
        count = queryset.count()
        self.message_user(
            request,
            f"{count} participant{'' if count == 1 else 's'} can continue from a new browser: the next entry "
            "from Prolific binds it.",
            messages.SUCCESS,
        )

    @admin.action(description="Mark returned on Prolific (release their unrated pairs)", permissions=["change"])
    def mark_returned(self, request, queryset) -> None:
        self._release(request, queryset, Annotator.ReleaseReason.RETURNED)

    @admin.action(description="Mark timed out on Prolific (release their unrated pairs)", permissions=["change"])
    def mark_timed_out(self, request, queryset) -> None:
        self._release(request, queryset, Annotator.ReleaseReason.TIMED_OUT)

    def _release(self, request, queryset, reason: str) -> None:
        selected = queryset.count()
        released = leases.release(annotators=queryset, reason=reason)
        note = f"{released} participant{'' if released == 1 else 's'} released: their unrated pairs are free again"
        note += " and the ratings they gave are kept."
        if released < selected:
            note += f" {selected - released} finished, released before, or with every pair rated, left as they were."
        self.message_user(request, note, messages.SUCCESS)

    @admin.display(description="Pilot run", boolean=True, ordering="is_pilot")
    def pilot_run(self, annotator: Annotator) -> bool:
        """A pilot run (``services.pilots``) counts nowhere; the study page deletes a study's pilot runs."""
        return annotator.is_pilot

    @admin.display(description="Invite link")
    def invite_link(self, annotator: Annotator) -> str:
        return reverse("annotations:invite", kwargs={"token": annotator.token}) if annotator.pk else ""


class AssignmentAdmin(StudyScopedAdmin, ViewOnlyAdmin):
    """Assignments are laid out at consent (``services.enrolment.allocate``); their sides and order are the record of
    what the annotator saw, so they are fixed."""

    list_display = ("annotator", "order", "pair", "ours_on_left", "shown_at")
    study_path = "annotator__study"
    list_filter = (("annotator__study", STUDY_FILTER),)
    list_select_related = ("annotator", "pair__study")


class RatingAdmin(StudyScopedAdmin, ViewOnlyAdmin):
    """Ratings are stored by annotators (``services.ratings.submit_rating``) or ``import_ratings``, never by hand."""

    list_display = ("assignment", "condition", "criterion", "score", "seconds", "created_at")
    study_path = "assignment__annotator__study"
    list_filter = (("assignment__annotator__study", STUDY_FILTER),)
    list_select_related = ("assignment__annotator", "condition", "criterion")
