from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for the whole portal: stands above the apps and builds each one's demo."""

    name = "demo"
    verbose_name = "Демонстрационные данные"
