from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Учётные записи"

    def ready(self):
        from . import login_budget  # noqa: F401 - connects its login signals
