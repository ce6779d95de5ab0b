from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Учётные записи"

    def ready(self):
        from . import checks, signals  # noqa: F401 - registers the deploy check and the login receiver
