import os

from celery import Celery, signals

from fisoko_portal import logging as portal_logging  # noqa: F401 - connects the one-line-per-task signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fisoko_portal.settings")

# Broker and eager mode come from the CELERY_* settings, which follow REDIS_URL.
app = Celery("fisoko_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    """Workers and beat log through settings.LOGGING too: masked, JSON lines with LOG_JSON=1."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
