"""API tokens in the admin: each staff user makes, sees and revokes their own (a superuser sees everyone's, to
revoke them). A new token is shown once, on the page that follows its creation; only its digest is stored."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from . import services
from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    actions = ["revoke"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("user")
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ("name",) if obj is None else ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("prefix", "user", "created_at", "last_used_at", "revoked_at")

    # Tokens are personal: any staff user may manage their own (a token can do no more than its user can).
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or self._own(request, obj))

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    @staticmethod
    def _own(request, obj) -> bool:
        return request.user.is_superuser or obj.user_id == request.user.pk

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # the form has refused an empty or over-long name already
        row, token = services.create_token(user=request.user, name=form.cleaned_data["name"])
        obj.pk, obj.prefix, obj.created_at = row.pk, row.prefix, row.created_at
        obj.user_id, obj.digest = row.user_id, row.digest
        obj._state.adding = False
        request._new_api_token = token

    def response_add(self, request, obj, post_url_continue=None):
        """The one page that shows the new token."""
        token = getattr(request, "_new_api_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API token “{obj.name}”",
            "token_row": obj,
            "token": token,
        }
        return TemplateResponse(request, "admin/api/apitoken/created.html", context)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = services.revoke_tokens(queryset)
        self.message_user(request, f"Revoked {count} token{'s' if count != 1 else ''}.", messages.SUCCESS)
