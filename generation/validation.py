"""Model validation whose messages name the field they are about."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models


def full_clean_named(instance: models.Model) -> None:
    """Run ``full_clean`` and re-raise its errors as messages prefixed with the field's name."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        messages = []
        for field, errors in exc.message_dict.items():
            prefix = "" if field == NON_FIELD_ERRORS else f"{field}: "
            messages += [prefix + error for error in errors]
        raise ValidationError(messages) from None
