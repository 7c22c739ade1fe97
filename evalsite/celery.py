"""The Celery application; tasks live in each app's tasks.py as shared tasks."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalsite.settings")

app = Celery("evalsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_routes={"generation.tasks.*": {"queue": "gpu"}},
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()
