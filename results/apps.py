from django.apps import AppConfig


class ResultsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "results"
    verbose_name = "Результаты"

    def ready(self):
        from . import signals  # noqa: F401  (a change of a work's scale recomputes its marks)
