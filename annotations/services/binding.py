"""Binding an enrolled annotator to the browser it takes part from.

Knowing a participant's Prolific ID must not be enough to take over that participant's session. The first entry
binds the annotator to its browser: ``Annotator.browser_key`` gets a random key, and the browser a signed,
HttpOnly cookie (one per study; the views set it) holding the annotator and that key. Later entries resume when the
cookie matches, or when they repeat the annotator's current Prolific attempt exactly (PROLIFIC_PID, STUDY_ID and
SESSION_ID: Prolific's id of one attempt is known only to the participant), which binds the new browser too.
Anything else is refused with ``OtherBrowser``. A researcher can clear the key (``let_continue_from_new_browser``):
the next entry binds then.
"""

import secrets

from django.core.exceptions import ValidationError

from ..models import Annotator, Study

#: The cookie of study ``pk`` is named ``COOKIE_PREFIX + pk``; its signature is salted with ``COOKIE_SALT``.
COOKIE_PREFIX = "evalsite-participant-"
COOKIE_SALT = "annotations.browser"
COOKIE_MAX_AGE = 60 * 60 * 24 * 90  # seconds: longer than any study runs

#: The entry fields that name one Prolific attempt.
ATTEMPT_FIELDS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")


class OtherBrowser(ValidationError):
    """The participant is taking part from another browser, and this entry does not show it is the participant."""


def cookie_name(study_id: int) -> str:
    return f"{COOKIE_PREFIX}{study_id}"


def cookie_value(annotator: Annotator) -> str:
    """What the browser's cookie holds (signed by the view): the annotator and its browser key."""
    return f"{annotator.pk}:{annotator.browser_key}"


def holds(annotator: Annotator, cookie: str | None) -> bool:
    """Whether a (verified) cookie value is this annotator's, with its current browser key."""
    return bool(annotator.browser_key) and cookie == cookie_value(annotator)


def annotator_of(study: Study, cookie: str | None) -> Annotator | None:
    """The study's annotator a browser's (verified) cookie value holds, with its current key; else None."""
    head = (cookie or "").partition(":")[0]
    if not head.isdigit():
        return None
    annotator = study.annotators.filter(pk=int(head)).first()
    return annotator if annotator is not None and holds(annotator, cookie) else None


def _same_attempt(annotator: Annotator, entry: dict | None) -> bool:
    current = [annotator.entry.get(name, "") for name in ATTEMPT_FIELDS]
    return all(current) and current == [(entry or {}).get(name, "") for name in ATTEMPT_FIELDS]


def bind(annotator: Annotator) -> Annotator:
    """Give the annotator a browser key if it has none (its first entry, or the first after a reset)."""
    if not annotator.browser_key:
        annotator.browser_key = secrets.token_urlsafe(32)
        annotator.save(update_fields=["browser_key"])
    return annotator


def admit(annotator: Annotator, *, cookie: str | None, entry: dict | None) -> Annotator:
    """Let an existing annotator go on from this browser, binding it; raises ``OtherBrowser`` otherwise.

    ``cookie``: the browser's verified cookie value (None without one); ``entry``: the Prolific fields of the entry.
    Call with the annotator's row locked.
    """
    if holds(annotator, cookie) or not annotator.browser_key or _same_attempt(annotator, entry):
        return bind(annotator)
    raise OtherBrowser(
        "This Prolific ID is already taking part from another browser. If that was you, please go on in that "
        "browser; to continue from this one, contact the researcher through Prolific."
    )


def let_continue_from_new_browser(*, annotators) -> int:
    """Clear the browser binding of the given annotators (a queryset): the next entry of each binds anew."""
    return annotators.exclude(browser_key="").update(browser_key="")
