from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        from celery.signals import worker_init

        from . import checks

        worker_init.connect(checks.check_storage_at_worker_start, dispatch_uid="evalsite-storage-check")
