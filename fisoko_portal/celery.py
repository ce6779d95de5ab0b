import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fisoko_portal.settings")

# Broker and eager mode come from the CELERY_* settings, which follow REDIS_URL.
app = Celery("fisoko_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
