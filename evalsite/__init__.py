"""EvalSite: human evaluation of text-to-image methods."""

from .celery import app as celery_app

__all__ = ("celery_app",)
