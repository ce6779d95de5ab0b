"""Password spraying: failed logins budgeted per address across logins and per login across addresses."""

import itertools
import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis
import time_machine
from axes.handlers.proxy import AxesProxyHandler
from django.utils import timezone

from accounts.models import LoginFailures
from accounts.tasks import purge_login_failures
from tests.conftest import PASSWORD, require_service

FROM_ADDRESS = "Слишком много попыток входа с вашего адреса, повторите через"
FOR_LOGIN = "Слишком много попыток входа с этим логином, повторите через"


def post_login(client, username, password, address="127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


FRESH_LOGINS = itertools.count(9000)


def spray(client, n, address="127.0.0.1"):
    """One wrong password for each of ``n`` logins not tried before: no pair nears django-axes' lockout."""
    return [
        post_login(client, f"sch77{next(FRESH_LOGINS)}", "Spring2026!", address).status_code for _ in range(n)
    ]


@pytest.fixture
def address_budget(settings):
    settings.LOGIN_ADDRESS_FREE_FAILURES = 5
    settings.LOGIN_USERNAME_FREE_FAILURES = 1000
    return settings


@pytest.fixture
def login_budget_of_three(settings):
    settings.LOGIN_ADDRESS_FREE_FAILURES = 1000
    settings.LOGIN_USERNAME_FREE_FAILURES = 3
    return settings


def assert_slowed(response, message, seconds):
    assert response.status_code == 429
    assert response["Retry-After"] == str(seconds)
    assert f"{message} {seconds} с" in response.content.decode()


def test_spraying_from_one_address_is_slowed_with_a_growing_wait(anonymous_client, school, address_budget):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert spray(anonymous_client, 5) == [200] * 5
        # The next attempt, on any login and even with the right password, is answered at once.
        response = post_login(anonymous_client, "sch771234", PASSWORD)
        assert_slowed(response, FROM_ADDRESS, 1)
        assert "_auth_user_id" not in anonymous_client.session
        # The school behind another address is not slowed.
        assert post_login(anonymous_client, "sch771234", PASSWORD, "10.0.0.2").status_code == 302
        anonymous_client.logout()

        # Each further failure doubles the wait: 1 s, 2 s, 4 s …
        for seconds in (1, 2, 4, 8):
            clock.shift(seconds)
            assert spray(anonymous_client, 1) == [200]
            assert_slowed(post_login(anonymous_client, "sch771234", PASSWORD), FROM_ADDRESS, seconds * 2)

        # Once the wait has passed, the right password logs in.
        clock.shift(16)
        assert post_login(anonymous_client, "sch771234", PASSWORD).status_code == 302


def test_the_wait_stops_at_the_cap_and_the_window_ends_it(anonymous_client, school, address_budget):
    address_budget.LOGIN_MAX_DELAY_SECONDS = 3
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        spray(anonymous_client, 5)
        for _ in range(4):
            clock.shift(3)
            spray(anonymous_client, 1)
        assert_slowed(post_login(anonymous_client, "sch771234", PASSWORD), FROM_ADDRESS, 3)
        # 15 minutes after the window's first failure, the address starts afresh.
        clock.move_to(start + timedelta(minutes=15, seconds=1))
        assert spray(anonymous_client, 5) == [200] * 5
        assert post_login(anonymous_client, "sch771234", PASSWORD).status_code == 429


def test_attempts_refused_during_the_wait_are_not_counted(anonymous_client, school, address_budget):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        spray(anonymous_client, 5)
        # Wrong passwords for one login while slowed: neither the wait grows nor django-axes counts them.
        for _ in range(10):
            assert_slowed(post_login(anonymous_client, "sch771234", "wrong"), FROM_ADDRESS, 1)
        clock.shift(1)
        assert post_login(anonymous_client, "sch771234", PASSWORD).status_code == 302
    assert LoginFailures.objects.get(key="address:127.0.0.1").failures == 5


def test_many_addresses_against_one_login_are_slowed(
    anonymous_client, school, other_school, login_budget_of_three
):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for n in range(3):
            assert post_login(anonymous_client, "sch771234", "wrong", f"203.0.113.{n}").status_code == 200
        # A fourth address, even with the right password, must wait; the login is what is slowed.
        response = post_login(anonymous_client, "sch771234", PASSWORD, "198.51.100.7")
        assert_slowed(response, FOR_LOGIN, 1)
        assert post_login(anonymous_client, "sch775601", PASSWORD, "203.0.113.0").status_code == 302
        anonymous_client.logout()

        clock.shift(1)
        assert post_login(anonymous_client, "sch771234", "wrong", "203.0.113.50").status_code == 200
        assert_slowed(post_login(anonymous_client, "sch771234", PASSWORD, "198.51.100.7"), FOR_LOGIN, 2)

        # Logging in with the right password clears the login's count.
        clock.shift(2)
        assert post_login(anonymous_client, "sch771234", PASSWORD, "198.51.100.7").status_code == 302
        anonymous_client.logout()
        assert post_login(anonymous_client, "sch771234", "wrong", "203.0.113.60").status_code == 200
        assert post_login(anonymous_client, "sch771234", PASSWORD, "203.0.113.61").status_code == 302


def test_admin_login_is_slowed_the_same_way(anonymous_client, operator, address_budget):
    spray(anonymous_client, 5)
    response = anonymous_client.post(
        "/admin/login/", {"username": "operator", "password": PASSWORD, "next": "/admin/"}
    )
    assert_slowed(response, FROM_ADDRESS, 1)
    assert "_auth_user_id" not in anonymous_client.session


def test_defaults_leave_a_shared_address_room_and_slow_a_sprayer():
    from fisoko_portal import settings as production

    # ~600 logins an hour from a region's shared address with ~10 % typos: ~15 failures a quarter-hour.
    assert production.LOGIN_ADDRESS_FREE_FAILURES >= 60
    assert production.LOGIN_BUDGET_WINDOW == timedelta(minutes=15)
    assert production.LOGIN_MAX_DELAY_SECONDS <= 60
    assert production.LOGIN_USERNAME_FREE_FAILURES >= 2 * (production.AXES_FAILURE_LIMIT - 1)


def test_counters_past_their_window_are_purged(db, anonymous_client, address_budget):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        spray(anonymous_client, 2)
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        post_login(anonymous_client, "sch779999", "wrong", "10.0.0.9")
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        purge_login_failures.delay()
    assert sorted(LoginFailures.objects.values_list("key", flat=True)) == [
        "address:10.0.0.9",
        "login:sch779999",
    ]


# ---------------------------------------------------------------- Redis down, read-only, full


def use_redis(settings, url):
    """The production configuration with Redis, pointed at ``url``."""
    settings.CACHES = {
        "default": {
            "BACKEND": "fisoko_portal.redis_cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
    AxesProxyHandler.get_implementation(force=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["readonly", "oom"])
def refusing_redis(request, tmp_path):
    """A real redis-server of this test's own, answering every write with an error reply:
    a replica (READONLY, its master unreachable) or one past maxmemory under noeviction (OOM)."""
    require_service(shutil.which("redis-server"), "redis-server is not installed")
    port = free_port()
    mode = {
        "readonly": ["--replicaof", "127.0.0.1", "1"],
        "oom": ["--maxmemory", "1", "--maxmemory-policy", "noeviction"],
    }[request.param]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            *mode,
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        with pytest.raises(redis.ResponseError, match="read only replica|maxmemory"):
            client.set("probe", "1")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def login_works_and_budgets_count(client, settings):
    settings.LOGIN_ADDRESS_FREE_FAILURES = 5
    settings.LOGIN_USERNAME_FREE_FAILURES = 3
    for n in range(3):
        assert post_login(client, "sch771234", "wrong", f"203.0.113.{n}").status_code == 200
    assert_slowed(post_login(client, "sch771234", PASSWORD, "198.51.100.7"), FOR_LOGIN, 1)
    assert spray(client, 5) == [200] * 5
    assert_slowed(post_login(client, "sch775601", PASSWORD), FROM_ADDRESS, 1)
    response = post_login(client, "sch775601", PASSWORD, "10.0.0.2")
    assert response.status_code == 302 and response.url == "/cabinet/"
    assert client.get("/cabinet/").status_code == 200


def test_with_redis_down_login_works_and_the_budgets_count(anonymous_client, school, other_school, settings):
    use_redis(settings, "redis://127.0.0.1:1/0")  # nothing listens there
    login_works_and_budgets_count(anonymous_client, settings)


def test_with_redis_refusing_writes_login_works_and_the_budgets_count(
    anonymous_client, school, other_school, settings, refusing_redis
):
    use_redis(settings, refusing_redis)
    login_works_and_budgets_count(anonymous_client, settings)
