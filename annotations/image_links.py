"""Annotators' image links: each names one image at one place of one annotator's sequence, sealed.

A link is the image's storage name with its place (assignment order and side), encrypted with AES-SIV under a key
derived from SECRET_KEY, and bound to the annotator's token as associated data. So a link opens only under the token
it was made for, and nothing in it (not the arm, the pair, or whether two places show the same image) can be read
without the key. The encryption is deterministic: the same place always gets the same link, so the browser reuses
the preloaded image when the pair is shown. A link works only while the annotator's study is open
(:func:`study_open`): one query by the token's unique index, made only for a link that opens.
"""

import base64
import functools
import hashlib
import hmac
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from django.conf import settings
from django.db import connection

from analysis.stats.tidy import POSITIONS, SLOTS

from .models import PILOT_STATUSES, Annotator, Study

#: The places a link may name: the seed's screen's two sides, and the places of a screen of several images.
PLACES = frozenset((*POSITIONS, *SLOTS))

#: The annotator's study takes its answers (``models.takes_answers``: open, or for a pilot ready), by token.
STUDY_OPEN_SQL = (
    f'SELECT 1 FROM "{Annotator._meta.db_table}" a JOIN "{Study._meta.db_table}" s ON s.id = a.study_id '
    "WHERE a.token = %s AND (s.status = %s OR a.is_pilot AND s.status IN (%s, %s))"
)


@functools.lru_cache(maxsize=4)
def _cipher(secret_key: str) -> AESSIV:
    key = hmac.new(secret_key.encode(), b"evalsite annotator image links", hashlib.sha512).digest()
    return AESSIV(key)  # 512-bit key: AES-256-SIV


def seal(*, token: str, order: int, side: str, name: str) -> str:
    """The link text for the image stored under ``name``, shown at (``order``, ``side``) to ``token``'s annotator."""
    sealed = _cipher(settings.SECRET_KEY).encrypt(f"{order}:{side}:{name}".encode(), [token.encode()])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def open_link(*, token: str, link: str) -> str | None:
    """The storage name a link made for ``token`` names; None for a link that is forged, altered or another's."""
    try:
        sealed = base64.urlsafe_b64decode(link + "=" * (-len(link) % 4))
        order, side, name = _cipher(settings.SECRET_KEY).decrypt(sealed, [token.encode()]).decode().split(":", 2)
    except (ValueError, InvalidTag):  # bad base64 or too short (ValueError), or not sealed by us for this token
        return None
    return name if side in PLACES and order.isdigit() else None


#: Tokens whose study was last seen open, with the (monotonic) time until which that answer stands.
_seen_open: dict[str, float] = {}
_SEEN_OPEN_MAX = 100_000  # tokens remembered at most (all forgotten at once past it)


def study_open(token: str) -> bool:
    """Whether ``token``'s annotator belongs to an open study (or, for a pilot, a ready one): its image links work
    only then, so the images of a closed study (or one not yet open) cannot be fetched with links handed out earlier.

    One indexed query; an "open" answer is then trusted for ``EVALSITE_IMAGE_LINK_RECHECK_SECONDS`` in this process
    (an annotator's page fetches a few images a second), so a study's links stop working at most that long after it
    closes. A "no" is never remembered.
    """
    now = time.monotonic()
    if _seen_open.get(token, 0.0) > now:
        return True
    with connection.cursor() as cursor:
        cursor.execute(STUDY_OPEN_SQL, [token, Study.Status.OPEN.value, *(status.value for status in PILOT_STATUSES)])
        is_open = cursor.fetchone() is not None
    if is_open and settings.EVALSITE_IMAGE_LINK_RECHECK_SECONDS > 0:
        if len(_seen_open) >= _SEEN_OPEN_MAX:
            _seen_open.clear()
        _seen_open[token] = now + settings.EVALSITE_IMAGE_LINK_RECHECK_SECONDS
    return is_open
