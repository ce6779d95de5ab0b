from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Техническая поддержка"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy checks)
