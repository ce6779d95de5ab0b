"""Staff accounts log in with a password and a TOTP code (or a one-time recovery code)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD

RECOVERY_CODES = ["abcd2345", "efgh6723", "jkmn3456"]


@pytest.fixture
def otp_required(settings):
    settings.STAFF_OTP_REQUIRED = True


@pytest.fixture
def enrolled(operator):
    """The operator with a confirmed authenticator app and three recovery codes left."""
    device = TOTPDevice.objects.create(user=operator, name="Приложение-аутентификатор", confirmed=True)
    recovery = StaticDevice.objects.create(user=operator, name="Коды восстановления")
    for code in RECOVERY_CODES:
        recovery.token_set.create(token=code)
    return device


def code_of(device):
    return f"{totp(device.bin_key):06d}"


def wrong_code_for(device):
    return f"{(int(code_of(device)) + 1) % 1_000_000:06d}"


def admin_login(client=None):
    client = client or Client()
    response = client.post("/admin/login/", {"username": "operator", "password": PASSWORD, "next": "/admin/"})
    return client, response


def give_code(client, code):
    return client.post("/staff/code/", {"code": code, "next": "/admin/"})


def test_tests_run_with_the_requirement_off_as_debug_is_on(settings):
    # The requirement follows DEBUG unless set: `check --deploy` (DEBUG=0) finds it on, see test_deploy.
    assert settings.STAFF_OTP_REQUIRED is False


def test_staff_without_a_device_is_sent_to_enrolment(otp_required, operator):
    client, response = admin_login()
    assert response.status_code == 302
    response = client.get(response.url, follow=True)
    assert response.redirect_chain[-1] == ("/staff/setup/?next=%2Fadmin%2F", 302)
    html = response.content.decode()
    assert "Подключение второго фактора" in html
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    assert "otpauth://totp/" in html and 'src="data:image/svg+xml' in html
    secret = response.context["secret"]
    assert len(secret.replace(" ", "")) == 32  # 20 random bytes in base32, for typing in by hand
    # Nothing of the admin is reachable meanwhile.
    for path in ["/admin/", "/admin/helpdesk/ticket/", "/admin/accounts/user/"]:
        assert client.get(path).url.startswith("/staff/setup/")
    assert TOTPDevice.objects.filter(user=operator).get() == device


def test_a_key_shown_to_another_session_never_becomes_the_second_factor(otp_required, operator):
    """Someone who has the password and opens the enrolment page first must not keep a key that the
    real user then confirms: each session is shown a key of its own, and confirming one drops the rest."""
    from base64 import b32decode

    attacker, response = admin_login()
    seen = attacker.get("/staff/setup/?next=%2Fadmin%2F").context["secret"]
    stolen_key = b32decode(seen.replace(" ", ""))

    owner, _ = admin_login()
    page = owner.get("/staff/setup/?next=%2Fadmin%2F")
    assert page.context["secret"] != seen
    own = TOTPDevice.objects.get(
        user=operator, confirmed=False, key=b32decode(page.context["secret"].replace(" ", "")).hex()
    )
    assert owner.post("/staff/setup/", {"code": code_of(own), "next": "/admin/"}).status_code == 200
    assert list(TOTPDevice.objects.filter(user=operator).values_list("confirmed", flat=True)) == [True]

    # The key the attacker saw opens nothing: it was never confirmed, and it is gone.
    attacker, _ = admin_login()
    response = give_code(attacker, f"{totp(stolen_key):06d}")
    assert response.status_code == 200 and "Неверный код подтверждения." in response.content.decode()
    assert attacker.get("/admin/").url.startswith("/staff/code/")


def test_staff_logging_in_at_the_cabinet_page_is_stopped_the_same_way(otp_required, operator, enrolled):
    client = Client()
    response = client.post("/login/", {"username": "operator", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == ("/staff/code/?next=%2Fadmin%2F", 302)
    assert "Код подтверждения" in response.content.decode()


def test_enrolment_with_a_wrong_code_is_refused_and_confirms_nothing(otp_required, operator):
    client, _ = admin_login()
    client.get("/staff/setup/")
    device = TOTPDevice.objects.get(user=operator)
    response = client.post("/staff/setup/", {"code": wrong_code_for(device), "next": "/admin/"})
    assert response.status_code == 200
    assert "Неверный код. Проверьте, что время на телефоне точное" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=operator).exists()
    assert client.get("/admin/").url.startswith("/staff/setup/")


def test_enrolment_with_the_right_code_shows_ten_recovery_codes_once_and_lets_in(otp_required, operator):
    client, _ = admin_login()
    first = client.get("/staff/setup/").context["secret"]
    assert client.get("/staff/setup/").context["secret"] == first  # a reload keeps the key being set up
    device = TOTPDevice.objects.get(user=operator)
    response = client.post("/staff/setup/", {"code": code_of(device), "next": "/admin/"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "только один раз" in html
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in html for code in codes)
    stored = StaticToken.objects.filter(device__user=operator).values_list("token", flat=True)
    assert sorted(stored) == sorted(codes)
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    # The codes are never shown again, and the device cannot be swapped by whoever has the password.
    response = client.get("/staff/setup/")
    assert response.status_code == 302 and response.url.startswith("/staff/code/")


def test_wrong_code_is_refused_with_a_russian_message(otp_required, enrolled):
    client, _ = admin_login()
    response = give_code(client, wrong_code_for(enrolled))
    assert response.status_code == 200
    assert "Неверный код подтверждения." in response.content.decode()
    assert client.get("/admin/").url == "/staff/code/?next=%2Fadmin%2F"


def test_right_code_from_the_app_lets_staff_into_the_admin(otp_required, enrolled):
    client, _ = admin_login()
    response = give_code(client, code_of(enrolled))
    assert response.status_code == 302 and response.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/helpdesk/ticket/").status_code in (200, 403)  # no longer sent to the code


def test_codes_tried_in_a_row_wait_longer_each_time(otp_required, enrolled):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client, _ = admin_login()
        give_code(client, wrong_code_for(enrolled))
        response = give_code(client, code_of(enrolled))  # even the right code, at once
        assert "Слишком много неверных кодов. Повторите через 1 с." in response.content.decode()
        assert client.get("/admin/").status_code == 302
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        assert give_code(client, code_of(enrolled)).url == "/admin/"


def test_recovery_code_works_once(otp_required, enrolled):
    client, _ = admin_login()
    response = give_code(client, " ABCD 2345 ")  # typed with spaces and capitals
    assert response.url == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Вы вошли по коду восстановления. Неиспользованных кодов: 2." in page.content.decode()

    again, _ = admin_login()
    response = give_code(again, "abcd2345")
    assert "Неверный код подтверждения." in response.content.decode()
    assert again.get("/admin/").status_code == 302
    assert StaticToken.objects.filter(device__user=enrolled.user).count() == 2


def test_cabinet_users_are_not_asked_for_a_code(otp_required, school):
    client = Client()
    response = client.post("/login/", {"username": "sch771234", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == ("/cabinet/", 302)
    assert client.get("/staff/code/").url == "/"


def test_admin_login_is_still_locked_out_after_five_wrong_passwords(otp_required, enrolled):
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "operator", "password": "wrong", "next": "/admin/"})
    _, response = admin_login(client)
    assert response.status_code == 429
    assert "Вход временно заблокирован" in response.content.decode()


@pytest.mark.parametrize(
    "path, data",
    [
        ("/login/", {"remember": "on"}),
        ("/login/", {}),
        ("/admin/login/", {"next": "/admin/"}),
    ],
)
def test_staff_session_ends_eight_hours_after_login(settings, operator, path, data):
    # Sessions in PostgreSQL and a local cache: Redis expires keys by its own clock, which
    # time_machine cannot move (it does expire them at the same moment: the key's TTL is the age).
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        response = client.post(path, {"username": "operator", "password": PASSWORD, **data})
        assert response.status_code == 302
        assert int(response.cookies["sessionid"]["max-age"]) == 8 * 3600
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(hours=7, minutes=59), tick=False):
        assert client.get("/admin/").status_code == 200  # working keeps it no longer than that...
    with time_machine.travel(start + timedelta(hours=8, minutes=1), tick=False):
        response = client.get("/admin/")
        assert response.status_code == 302 and response.url.startswith("/admin/login/")
