"""Signals other apps may listen to; generation itself knows nothing of them."""

from django.dispatch import Signal

#: Sent with ``job_id`` and ``status`` when a pair job has finished, done or failed.
pair_job_finished = Signal()
