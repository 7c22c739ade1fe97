"""Admin classes that keep collected answers: view-only rows, and deletes refused where answers would go with them."""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import quote, unquote
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse

from ..models import Annotator, CheckResponse, Rating, Study
from ..selectors import ONE_PER_PAIR


def answers_held(queryset) -> dict[object, tuple[int, int]]:
    """For each object of ``queryset`` (studies or annotators) that holds answers: (ratings, attention-check answers).

    Deleting one would delete those answers with it (the foreign keys cascade). A pilot run's answers are not
    collected data (``services.pilots``): they are not counted, so a pilot, or a study holding only pilots'
    answers, may be deleted.
    """
    path = {Study: "assignment__annotator__study", Annotator: "assignment__annotator"}[queryset.model]
    pks = list(queryset.values_list("pk", flat=True))
    counts = [
        dict(
            answers.objects.filter(one, assignment__annotator__is_pilot=False, **{f"{path}__in": pks})
            .values_list(path)
            .annotate(n=Count("pk"))
            .order_by()
        )
        for answers, one in ((Rating, ONE_PER_PAIR), (CheckResponse, Q()))
    ]
    ratings, checks = counts
    return {
        obj: (ratings.get(obj.pk, 0), checks.get(obj.pk, 0))
        for obj in queryset.model.objects.filter(pk__in=[*ratings, *checks]).order_by("pk")
    }


def _refusal(held: dict[object, tuple[int, int]]) -> str:
    named = "; ".join(
        f"{obj._meta.verbose_name} {str(obj)!r} holds {ratings} rating{'' if ratings == 1 else 's'} and "
        f"{checks} attention-check answer{'' if checks == 1 else 's'}"
        for obj, (ratings, checks) in held.items()
    )
    return (
        f"Nothing was deleted: {named}, and deleting would delete them with it. Collected answers are never "
        "deleted from the admin; close the study instead."
    )


def delete_unless_answered(modeladmin, request, queryset):
    """Django's "Delete selected", refused (with a message naming why) when any selected object holds answers."""
    held = answers_held(queryset)
    if held:
        modeladmin.message_user(request, _refusal(held), messages.ERROR)
        return None
    return delete_selected(modeladmin, request, queryset)


class KeepAnswersAdmin(admin.ModelAdmin):
    """Refuses deleting an object (a study, an annotator) that holds ratings or attention-check answers."""

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and answers_held(type(obj).objects.filter(pk=obj.pk)):
            return False
        return super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and (held := answers_held(self.model.objects.filter(pk=obj.pk))):
            self.message_user(request, _refusal(held), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[quote(obj.pk)],
                    current_app=self.admin_site.name,
                )
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (delete_unless_answered, name, description)
        return actions


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows that services write and annotators' answers depend on: shown, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
