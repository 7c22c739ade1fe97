"""Admin classes that show a user only the rows of the studies they may see (``annotations.access``)."""

from django.contrib import admin

from .. import access
from ..models import Study


class StudyScopedAdmin(admin.ModelAdmin):
    """Lists, pages, actions and study choices narrowed to the studies the user may see (superusers: all).

    ``study_path`` leads from the model to its study ("" for studies). A row of another's study is missing from
    the list and its page is "not found"; an action only ever receives visible rows, since Django selects them
    from ``get_queryset``. List filters on a study should be ``admin.RelatedOnlyFieldListFilter``, which offers only
    the studies of the rows shown.
    """

    study_path = "study"

    def get_queryset(self, request):
        return access.visible(super().get_queryset(request), request.user, self.study_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Study:
            kwargs["queryset"] = access.visible_studies(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_run_permission(self, request) -> bool:
        """For actions that run a study or its annotators: ``@admin.action(permissions=["run"])``."""
        return request.user.has_perm(access.RUN_STUDY)
