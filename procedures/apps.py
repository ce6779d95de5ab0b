from django.apps import AppConfig


class ProceduresConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "procedures"
    verbose_name = "Оценочные процедуры"
