import re

import pytest
from django.test import Client

from tests.conftest import PASSWORD, login_client

NEW_PASSWORD = "Kv7-sunrise-Tundra"


@pytest.fixture
def issued(school):
    """A school account logged in with a password issued by support."""
    school.must_change_password = True
    school.save()
    return school


def set_password(client, password1, password2=None):
    return client.post(
        "/password/", {"new_password1": password1, "new_password2": password2 or password1}, follow=True
    )


@pytest.mark.parametrize("path", ["/cabinet/", "/cabinet/accounts/", "/cabinet/support/", "/"])
def test_user_with_an_issued_password_is_sent_to_set_their_own(regional_coordinator, path):
    regional_coordinator.must_change_password = True
    regional_coordinator.save()
    response = login_client(regional_coordinator).get(path, follow=True)
    assert response.redirect_chain[-1] == ("/password/", 302)
    assert response.status_code == 200
    assert "Задайте свой пароль" in response.content.decode()


def test_password_page_is_labelled_in_russian(issued):
    html = login_client(issued).get("/password/").content.decode()
    assert "Вы вошли с паролем, выданным службой технической поддержки" in html
    for field in ["new_password1", "new_password2"]:
        assert re.search(rf'<label\s+for="id_{field}"', html)


def test_own_password_clears_the_flag_keeps_the_session_and_logs_in(issued):
    client = login_client(issued)
    response = set_password(client, NEW_PASSWORD)
    assert response.redirect_chain[0] == ("/", 302)
    assert response.status_code == 200
    issued.refresh_from_db()
    assert not issued.must_change_password
    assert issued.check_password(NEW_PASSWORD)
    assert not issued.check_password(PASSWORD)
    assert client.get("/cabinet/").status_code == 200

    fresh = Client()
    login = fresh.post("/login/", {"username": issued.username, "password": NEW_PASSWORD})
    assert login.status_code == 302 and login.url == "/cabinet/"
    assert fresh.get("/cabinet/").status_code == 200


@pytest.mark.parametrize(
    "password1, password2, error",
    [
        ("Kv7-short", "Kv7-short", "Введённый пароль слишком короткий"),
        (NEW_PASSWORD, NEW_PASSWORD + "x", "Введенные пароли не совпадают"),
        ("1234567890123", "1234567890123", "Введённый пароль состоит только из цифр"),
    ],
)
def test_bad_password_shows_a_russian_error_and_keeps_the_flag(issued, password1, password2, error):
    client = login_client(issued)
    response = set_password(client, password1, password2)
    assert response.status_code == 200
    assert response.redirect_chain == []
    assert error in response.content.decode()
    issued.refresh_from_db()
    assert issued.must_change_password
    assert issued.check_password(PASSWORD)
    assert client.get("/cabinet/").url == "/password/"


def test_anonymous_visitor_is_sent_to_login(anonymous_client):
    response = anonymous_client.get("/password/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")
    response = anonymous_client.post("/password/", {"new_password1": "x", "new_password2": "x"})
    assert response.status_code == 302 and response.url.startswith("/login/")
