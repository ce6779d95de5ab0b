import importlib
import os
import uuid

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.test import Client

from accounts.models import Municipality, School, User

PASSWORD = "correct-horse-42"


def require_service(available, reason):
    """Skip with ``reason`` when a service is missing; fail instead in CI."""
    if available:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # Argon2id at production cost would dominate the run; its settings have their own test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A few generated schools' results are enough for a test of seed_demo; `make run` loads 300.
    settings.DEMO_RESULTS_SCHOOLS = 12


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """An empty cache for each test: in a shared Redis, sessions, lockout counts and throttles outlast it."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {name: {**options, "KEY_PREFIX": prefix} for name, options in settings.CACHES.items()}
    AxesProxyHandler.get_implementation(force=True)  # django-axes' cache handler keeps the cache it got


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in-process even when REDIS_URL names a broker; worker tests opt out."""
    from fisoko_portal.celery import app

    # The configuration came from Django settings with the CELERY_ namespace, and Celery reads the
    # namespaced key first: setting `task_always_eager` itself would change nothing.
    previous = app.conf.task_always_eager
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture
def reference_data(transactional_db):
    """Reload the rows that data migrations create (regions, roles, the operators group).

    Transactional tests (live server, real worker) end by emptying every table, so each of them
    loads these again rather than depend on the order the tests run in.
    """
    from django.apps import apps

    for migration in [
        "accounts.migrations.0002_regions_and_roles",
        "helpdesk.migrations.0002_operators_group",
        "helpdesk.migrations.0004_operators_view_downloads",
    ]:
        importlib.import_module(migration).forwards(apps, None)


@pytest.fixture
def make_account(db):
    def make(login, **extra):
        return User.objects.create_user(login, password=PASSWORD, **extra)

    return make


@pytest.fixture
def municipality(db):
    return Municipality.objects.create(region_id="77", code="003", name="Центральный округ")


@pytest.fixture
def school(make_account, municipality):
    School.objects.create(region_id="77", code="1234", name="ГБОУ «Школа № 1234»", municipality=municipality)
    return make_account("sch771234")


@pytest.fixture
def other_school(make_account):
    School.objects.create(region_id="77", code="5601", name="ГБОУ «Гимназия № 56»")
    return make_account("sch775601")


@pytest.fixture
def regional_coordinator(make_account):
    return make_account("reg77_vpr")


@pytest.fixture
def municipal_coordinator(make_account, municipality):
    return make_account("reg77_vpr_m003")


@pytest.fixture
def operator(db):
    return User.objects.create_user("operator", password=PASSWORD, is_staff=True)


@pytest.fixture
def anonymous_client():
    return Client()


def login_client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def valid_data():
    return {
        "organization_name": "ГБОУ «Школа № 1234»",
        "information_system": "fis_oko",
        "region": "77",
        "phone": "+7 (912) 345-67-89",
        "email": "director@school1234.ru",
        "organization_type": "school",
        "login": "sch771234",
        "person_name": "Иванова Мария Петровна",
        "head_name": "Петров Пётр Петрович",
        "reason": "lost",
        "description": "Замена пароля",
        "consent": "on",
        "website": "",
    }
