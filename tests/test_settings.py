import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.conftest import require_service

BASE_DIR = Path(__file__).resolve().parent.parent
REAL_CHANNELS = {"SMS_BACKEND": "smsc", "EMAIL_URL": "smtp://127.0.0.1:2525"}
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from fisoko_portal.celery import app; "
    "print(json.dumps({'eager': app.conf.task_always_eager, 'broker': app.conf.broker_url, "
    "'cache': s.CACHES['default']['BACKEND'], 'db': s.DATABASES['default']['ENGINE'], "
    "'lang': s.LANGUAGE_CODE, 'tz': s.TIME_ZONE}))"
)


def run_settings(**env):
    """Load the settings in a fresh interpreter with exactly this environment."""
    own = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "SMS_BACKEND", "EMAIL_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in own | {"ALLOW_LOCAL_DELIVERY"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="fisoko_portal.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60
    )


def test_embedded_default_is_sqlite_with_eager_tasks():
    result = run_settings()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "eager": True,
        "broker": "memory://",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "db": "django.db.backends.sqlite3",
        "lang": "ru",
        "tz": "Europe/Moscow",
    }


def test_redis_url_makes_redis_the_broker_and_the_cache():
    result = run_settings(REDIS_URL="redis://127.0.0.1:6379/3")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["eager"] is False
    assert probe["broker"] == "redis://127.0.0.1:6379/3"
    assert probe["cache"] == "fisoko_portal.redis_cache.RedisCache"


def test_production_refuses_the_default_secret_key():
    result = run_settings(DEBUG="0", ALLOWED_HOSTS="portal.example")
    assert result.returncode != 0
    assert "SECRET_KEY is the development default" in result.stderr


def test_production_starts_with_a_real_secret_key():
    result = run_settings(DEBUG="0", ALLOWED_HOSTS="portal.example", SECRET_KEY="k" * 60, **REAL_CHANNELS)
    assert result.returncode == 0, result.stderr


def test_production_with_the_embedded_default_channels_refuses_to_start():
    # SMS_BACKEND and EMAIL_URL unset: passwords would be files under var/sms/.
    result = run_settings(DEBUG="0", ALLOWED_HOSTS="portal.example", SECRET_KEY="k" * 60)
    assert result.returncode != 0
    assert "SMS_BACKEND is 'file': issued passwords would stay on this host" in result.stderr


def test_production_with_local_channels_starts_when_a_demo_allows_it():
    result = run_settings(
        DEBUG="0", ALLOWED_HOSTS="portal.example", SECRET_KEY="k" * 60, ALLOW_LOCAL_DELIVERY="1"
    )
    assert result.returncode == 0, result.stderr


def test_tests_run_on_postgresql_when_configured(db):
    require_service(connection.vendor == "postgresql", "PostgreSQL is not configured (DATABASE_URL)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_cache_round_trips_through_redis_when_configured():
    require_service(bool(settings.REDIS_URL), "Redis is not configured (REDIS_URL)")
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    key = f"probe-{uuid.uuid4()}"
    cache.set(key, "значение", 30)
    try:
        assert cache.get(key) == "значение"
    finally:
        cache.delete(key)
