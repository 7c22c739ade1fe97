from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Studies and ratings"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the generation signal)
