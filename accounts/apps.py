from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Учётные записи"

    def ready(self):
        from . import checks, login_budget, signals  # noqa: F401 - the deploy check and the login receivers
