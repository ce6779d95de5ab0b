"""/health/: what a load balancer sees when the parts behind the portal are up, and when one is not."""

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.integration.conftest import free_port, wait_until

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


class RedisServer:
    """A redis-server of this test's own on a free loopback port: the shared one is never stopped."""

    def __init__(self, tmp_path):
        self.port, self.dir = free_port(), tmp_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
        )
        assert wait_until(self.answers, 10), "redis-server did not start"

    def answers(self):
        return (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout
            == b"PONG\n"
        )

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings):
    require_service(
        shutil.which("redis-server") and shutil.which("redis-cli"), "redis-server is not installed"
    )
    server = RedisServer(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def test_all_up_answers_200_with_each_part_named(own_redis, client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok", "redis": "ok"}}
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]


def test_redis_stopped_turns_it_503_naming_redis(own_redis, client):
    assert client.get("/health/").status_code == 200
    own_redis.stop()
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert response.json()["checks"] == {"database": "ok", "storage": "ok", "redis": "fail"}


def test_missing_storage_turns_it_503_naming_storage(client, settings, tmp_path):
    settings.REDIS_URL = ""
    settings.MEDIA_ROOT = tmp_path / "not-mounted"
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["failing"] == ["storage"]


def test_one_query_no_session_no_cookie(client, settings, django_assert_num_queries):
    settings.REDIS_URL = ""
    with django_assert_num_queries(1):  # SELECT 1
        response = client.get("/health/")
    assert response.status_code == 200
    assert not response.cookies


PROBE = (
    "import json, django; django.setup(); from django.test import Client; "
    "c = Client(HTTP_HOST='127.0.0.1'); c.cookies['sessionid'] = 'a' * 32; h = c.get('/health/'); "
    "print(json.dumps({'health': h.status_code, 'body': h.json(), 'id': h.get('X-Request-ID'), "
    "'login': c.get('/login/').status_code}))"
)


def test_database_unreachable_turns_it_503_and_plain_http_is_not_redirected():
    """A web process whose database is gone, with production settings (SSL redirect on), probed by a
    client that carries a session cookie (the request log cannot load the session either)."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "S3_BUCKET"}}
    env.update(
        DJANGO_SETTINGS_MODULE="fisoko_portal.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/fisoko",  # nothing listens there
        DEBUG="0",
        ALLOW_LOCAL_DELIVERY="1",  # no SMS or mail is sent here
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["health"] == 503
    assert probe["body"]["failing"] == ["database"]
    assert probe["id"]  # the response still went out through the request log
    assert probe["login"] == 301  # every other page still goes to HTTPS
