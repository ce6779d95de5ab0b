import re
from datetime import timedelta

import pytest
import time_machine
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from tests.conftest import PASSWORD

INVALID = "Неверный логин или пароль"
ALL_ROLE_LOGINS = [
    "reg77_vpr",
    "reg50_vpr_m012",
    "niko_24",
    "spo_coord_66",
    "reg16_kko",
    "sch771234",
    "edu240017",
]


def post_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def header_login(response):
    """The login shown top right, or None."""
    html = response.content.decode()
    marker = 'data-testid="current-login">'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("<", 1)[0]


def test_login_page_is_in_russian(anonymous_client):
    html = anonymous_client.get("/login/").content.decode()
    for text in ["Вход в личный кабинет", "Логин", "Пароль", "Войти", "Запомнить меня"]:
        assert text in html
    for field in ["username", "password", "remember"]:
        assert re.search(rf'<label\s+for="id_{field}"', html)


@pytest.mark.parametrize("login", ALL_ROLE_LOGINS)
def test_each_role_logs_in_and_sees_its_login_top_right(anonymous_client, make_account, login):
    make_account(login)
    response = post_login(anonymous_client, login, PASSWORD, remember="on")
    assert response.status_code == 302 and response.url == "/cabinet/"
    page = anonymous_client.get("/cabinet/")
    assert page.status_code == 200
    assert header_login(page) == login
    assert "Выйти" in page.content.decode()


def test_wrong_password_and_unknown_login_look_the_same(anonymous_client, school):
    wrong_password = post_login(anonymous_client, "sch771234", "nope")
    unknown_login = post_login(anonymous_client, "sch779999", "nope")
    assert wrong_password.status_code == unknown_login.status_code == 200
    for response in (wrong_password, unknown_login):
        assert response.context["form"].errors == {"__all__": [INVALID]}
        assert INVALID in response.content.decode()
        assert header_login(response) is None


def test_login_typed_in_another_case_fails(anonymous_client, school):
    response = post_login(anonymous_client, "SCH771234", PASSWORD)
    assert response.context["form"].errors == {"__all__": [INVALID]}
    assert "_auth_user_id" not in anonymous_client.session


def test_password_is_case_sensitive(anonymous_client, school):
    response = post_login(anonymous_client, "sch771234", PASSWORD.upper())
    assert response.context["form"].errors == {"__all__": [INVALID]}


@pytest.mark.parametrize("username, password", [("", PASSWORD), ("sch771234", ""), ("", "")])
def test_empty_field_gives_the_same_message(anonymous_client, school, username, password):
    response = post_login(anonymous_client, username, password)
    assert response.status_code == 200
    assert response.context["form"].errors == {"__all__": [INVALID]}


def test_inactive_account_gets_the_same_message(anonymous_client, school):
    school.is_active = False
    school.save()
    response = post_login(anonymous_client, "sch771234", PASSWORD)
    assert response.context["form"].errors == {"__all__": [INVALID]}


def test_five_failures_lock_the_login_and_the_right_password_is_refused(anonymous_client, school):
    for _ in range(4):
        assert post_login(anonymous_client, "sch771234", "wrong").status_code == 200
    fifth = post_login(anonymous_client, "sch771234", "wrong")
    assert fifth.status_code == 429
    assert "Вход временно заблокирован" in fifth.content.decode()
    assert "15 мин" in fifth.content.decode()

    right = post_login(anonymous_client, "sch771234", PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in anonymous_client.session


def test_lockout_is_per_login_so_others_still_log_in(anonymous_client, school, regional_coordinator):
    for _ in range(5):
        post_login(anonymous_client, "sch771234", "wrong")
    assert post_login(anonymous_client, "reg77_vpr", PASSWORD).status_code == 302


def test_lock_lifts_after_the_cool_off(anonymous_client, school, settings):
    # Redis expires the lockout count by its own clock, which time_machine cannot move.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    AxesProxyHandler.get_implementation(force=True)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            post_login(anonymous_client, "sch771234", "wrong")
        assert post_login(anonymous_client, "sch771234", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert post_login(anonymous_client, "sch771234", PASSWORD).status_code == 429
    # Attempts during the lockout do not extend it.
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        response = post_login(anonymous_client, "sch771234", PASSWORD)
        assert response.status_code == 302 and response.url == "/cabinet/"


def test_admin_login_is_locked_out_the_same_way(anonymous_client, operator):
    for _ in range(5):
        response = anonymous_client.post(
            "/admin/login/", {"username": "operator", "password": "wrong", "next": "/admin/"}
        )
    assert response.status_code == 429
    response = anonymous_client.post(
        "/admin/login/", {"username": "operator", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 429
    assert "Вход временно заблокирован" in response.content.decode()


def test_logout_ends_the_session(anonymous_client, school):
    post_login(anonymous_client, "sch771234", PASSWORD)
    response = anonymous_client.post("/logout/")
    assert response.status_code == 302 and response.url == "/login/"
    assert anonymous_client.get("/cabinet/").status_code == 302


def test_anonymous_cabinet_goes_to_login(anonymous_client):
    response = anonymous_client.get("/cabinet/vpr/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/cabinet/vpr/"


def test_root_sends_each_to_their_place(anonymous_client, school, operator):
    assert anonymous_client.get("/").url == "/login/"
    anonymous_client.force_login(school)
    assert anonymous_client.get("/").url == "/cabinet/"
    anonymous_client.force_login(operator)
    assert anonymous_client.get("/").url == "/admin/"


def test_without_remember_me_the_session_ends_with_the_browser(anonymous_client, school):
    post_login(anonymous_client, "sch771234", PASSWORD)
    assert anonymous_client.session.get_expire_at_browser_close()


def test_remember_me_keeps_the_session(anonymous_client, school):
    post_login(anonymous_client, "sch771234", PASSWORD, remember="on")
    assert not anonymous_client.session.get_expire_at_browser_close()


def test_login_goes_back_to_the_page_asked_for(anonymous_client, school):
    response = anonymous_client.post(
        "/login/", {"username": "sch771234", "password": PASSWORD, "next": "/cabinet/support/"}
    )
    assert response.url == "/cabinet/support/"


def test_staff_who_logs_in_is_sent_to_the_admin_not_the_cabinet(anonymous_client, operator):
    response = post_login(anonymous_client, "operator", PASSWORD)
    assert response.url == "/admin/"
    assert anonymous_client.get("/cabinet/").url == "/admin/"


def test_argon2id_is_first_at_or_above_owasp_minimum():
    # Read the production setting: the tests themselves run on a fast hasher.
    from fisoko_portal import settings as production

    assert production.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2idHasher"
    hasher = import_string(production.PASSWORD_HASHERS[0])()
    encoded = hasher.encode("secret", hasher.salt())
    assert encoded.startswith("argon2$argon2id$")
    params = hasher.decode(encoded)["params"]
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert hasher.verify("secret", encoded) and not hasher.verify("Secret", encoded)
    assert settings.PASSWORD_HASHERS != production.PASSWORD_HASHERS  # the fixture is in effect


def test_login_with_surrounding_spaces_fails(anonymous_client, school):
    response = post_login(anonymous_client, " sch771234 ", PASSWORD)
    assert response.context["form"].errors == {"__all__": [INVALID]}


def test_very_long_login_gets_only_the_generic_message(anonymous_client, school):
    response = post_login(anonymous_client, "s" * 1000, PASSWORD)
    assert response.context["form"].errors == {"__all__": [INVALID]}


def test_english_browser_still_gets_the_russian_interface(anonymous_client, school):
    response = anonymous_client.post(
        "/login/", {"username": "sch771234", "password": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert INVALID in response.content.decode()
    admin = anonymous_client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Имя пользователя" in admin or "Пароль" in admin


@pytest.mark.parametrize(
    "username, password", [("sch771234", PASSWORD + "\x00"), ("sch771234\x00", PASSWORD)]
)
def test_nul_byte_gets_only_the_generic_message(anonymous_client, school, username, password):
    response = post_login(anonymous_client, username, password)
    assert response.status_code == 200
    assert response.context["form"].errors == {"__all__": [INVALID]}
