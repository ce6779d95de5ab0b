"""/health/ for load balancers: are the database, Redis and the file storage there?

Cheap enough to call every second: no session, no template, one round trip to each part,
each with a timeout of a second or two, and nothing written.
"""

import functools
import logging

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

log = logging.getLogger(__name__)


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@functools.cache
def _redis_client(url):
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _redis():
    _redis_client(settings.REDIS_URL).ping()


def _storage():
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:  # S3: the bucket answers and these keys may use it
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
    elif not default_storage.exists(""):  # a local or mounted directory: it is there
        raise FileNotFoundError("the storage root does not exist")


@never_cache
def health(request):
    checks = {"database": _database, "storage": _storage}
    if settings.REDIS_URL:
        checks["redis"] = _redis
    results = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:
            # The class only: a message may carry a host name or a key; the body says even less.
            log.warning("Health check %s failed: %s", name, type(error).__name__)
            results[name] = "fail"
        else:
            results[name] = "ok"
    failing = [name for name, result in results.items() if result != "ok"]
    body = {"status": "fail" if failing else "ok", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
