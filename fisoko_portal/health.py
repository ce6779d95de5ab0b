"""/health/ for load balancers: are the database, Redis and the file storage there?

Cheap enough to call every second: no session, no template, one round trip to each part,
each with a timeout of a second or two (libpq's minimum connect_timeout is 2 s), and nothing written.
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


@functools.cache
def _s3_client(endpoint_url, region_name, access_key, secret_key):
    """The storage's bucket, asked with a one-second budget instead of the storage's own retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _storage():
    storage = default_storage
    bucket = getattr(storage, "bucket_name", None)
    if bucket:  # S3: the bucket answers, and these keys may use it
        client = _s3_client(storage.endpoint_url, storage.region_name, storage.access_key, storage.secret_key)
        client.head_bucket(Bucket=bucket)
    elif not storage.exists(""):  # a local or mounted directory: it is there
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
