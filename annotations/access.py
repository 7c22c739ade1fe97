"""Which studies a staff user may see, and the permissions the staff pages ask for.

A study is seen, run and exported by its owner, by the users it is shared with, and by superusers; every admin
list and staff page narrows what it shows through ``visible_studies`` or ``visible``. What a user may do with a
study they see is a model permission (the Researcher group holds those a researcher needs). Management commands
are the operator's and see every study.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import Study

#: See a study's settings and its monitoring page.
VIEW_STUDY = "annotations.view_study"
#: Generate a study's pairs, open it and close it.
RUN_STUDY = "annotations.run_study"
#: See a study's results and export them.
EXPORT_STUDY = "annotations.export_study"
#: See a study's pairs labelled by arm (the preview page and its images).
VIEW_PAIRS = "annotations.view_imagepair"
#: Create invite links (annotators).
ADD_ANNOTATORS = "annotations.add_annotator"
#: Download a study's invite links.
VIEW_ANNOTATORS = "annotations.view_annotator"

User = AbstractBaseUser | AnonymousUser


def visible_studies(user: User) -> QuerySet[Study]:
    """The studies ``user`` may see: every study for a superuser, else those they own or that are shared with them."""
    studies = Study.objects.all()
    if user.is_superuser:
        return studies
    if not user.is_authenticated:
        return studies.none()
    shared = Study.shared_with.through.objects.filter(user_id=user.pk).values("study_id")
    return studies.filter(Q(owner_id=user.pk) | Q(pk__in=shared))


def visible(queryset: QuerySet, user: User, study_path: str) -> QuerySet:
    """``queryset`` narrowed to the rows of studies ``user`` may see; ``study_path`` leads from its model to the
    study ("" for studies themselves, e.g. "assignment__annotator__study" for ratings)."""
    if user.is_superuser:
        return queryset
    lookup = f"{study_path}__in" if study_path else "pk__in"
    return queryset.filter(**{lookup: visible_studies(user).values("pk")})


def may_share(user: User, study: Study | None) -> bool:
    """Whether ``user`` may change whom ``study`` is shared with: its owner, or a superuser (anyone creating it)."""
    return user.is_superuser or study is None or study.pk is None or study.owner_id == user.pk


def require(user: User, permission: str) -> None:
    """Refuse (403, naming the permission) a user who lacks ``permission``."""
    if not user.has_perm(permission):
        raise PermissionDenied(
            f"This page needs the permission {permission}, which your account does not have. "
            "Ask an administrator to add you to the Researcher group."
        )


def staff_study(user: User, slug: str, permission: str) -> Study:
    """The study ``slug`` for a staff page: 403 without ``permission``, 404 for a study ``user`` may not see (so
    that another's study looks like none)."""
    require(user, permission)
    return get_object_or_404(visible_studies(user), slug=slug)
