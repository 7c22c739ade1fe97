"""Making, revoking and checking API tokens.

A token is ``evs_`` and 43 random URL-safe characters (256 bits): too many to guess, so a plain SHA-256 digest is a
safe thing to store and to look up by. The token is returned once, when made; nothing can show it again.
"""

import hashlib
import secrets

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiToken

TOKEN_PREFIX = "evs_"
#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION_SECONDS = 60


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user`` named ``name``: the stored row and the token itself, which is not kept."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name saying what it is for.")
    max_length = ApiToken._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValidationError(f"The token's name is {len(name)} characters long; at most {max_length} are allowed.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name, prefix=token[: ApiToken._meta.get_field("prefix").max_length], digest=digest_of(token)
    )
    return row, token


def revoke_tokens(tokens: QuerySet[ApiToken]) -> int:
    """Revoke the tokens not revoked yet; returns how many were."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def authenticate(token: str) -> ApiToken | None:
    """The token's row when it is valid (not revoked, its user active and staff, as the admin asks), with its user;
    else None. Records when it was used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest_of(token), revoked_at__isnull=True, user__is_active=True, user__is_staff=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row
