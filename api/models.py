"""Researchers' API tokens: only a digest of each token is stored; the token itself is shown once, when made."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A key to the read-only API that acts as its user, with the user's permissions and studies."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “analysis notebook”.")
    prefix = models.CharField(max_length=12, editable=False, help_text="The token's first characters, to tell it by.")
    digest = models.CharField(max_length=64, unique=True, editable=False)  # SHA-256 of the token, hex
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
