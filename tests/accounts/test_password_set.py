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


def test_forced_change_refuses_the_issued_password_itself(issued, mailoutbox):
    client = login_client(issued)
    response = set_password(client, PASSWORD)  # PASSWORD is what the SMS carried
    assert response.redirect_chain == []
    html = response.content.decode()
    assert "Новый пароль совпадает с выданным службой поддержки. Придумайте другой." in html
    issued.refresh_from_db()
    assert issued.must_change_password
    assert issued.check_password(PASSWORD)
    assert mailoutbox == []


@pytest.fixture
def settled(school):
    """A school account with its own password and an address on record, logged in."""
    school.email = "director@school1234.ru"
    school.save()
    return school


def change_password(client, old, new1, new2=None):
    data = {"old_password": old, "new_password1": new1, "new_password2": new2 or new1}
    return client.post("/password/", data, follow=True)


def test_the_page_asks_for_the_current_password(settled):
    html = login_client(settled).get("/password/").content.decode()
    assert "Смена пароля" in html and "Текущий пароль" in html
    assert re.search(r'<label\s+for="id_old_password"', html)


def test_the_forced_change_does_not_ask_for_the_current_password(issued):
    assert 'id="id_old_password"' not in login_client(issued).get("/password/").content.decode()


@pytest.mark.parametrize(
    "old, error",
    [("", "Обязательное поле."), ("wrong-horse-42", "Текущий пароль введён неверно.")],
)
def test_change_without_the_right_current_password_is_refused_and_changes_nothing(
    settled, mailoutbox, django_capture_on_commit_callbacks, old, error
):
    client = login_client(settled)
    with django_capture_on_commit_callbacks(execute=True):
        response = change_password(client, old, NEW_PASSWORD)
    assert response.redirect_chain == []
    assert error in response.content.decode()
    settled.refresh_from_db()
    assert settled.check_password(PASSWORD) and not settled.check_password(NEW_PASSWORD)
    assert mailoutbox == []


def test_change_to_the_same_password_is_refused(settled, mailoutbox):
    response = change_password(login_client(settled), PASSWORD, PASSWORD)
    assert "Новый пароль совпадает с текущим. Придумайте другой." in response.content.decode()
    settled.refresh_from_db()
    assert settled.check_password(PASSWORD)
    assert mailoutbox == []


def test_wrong_current_passwords_lock_the_page_like_failed_logins(settled):
    client = login_client(settled)
    for _ in range(5):
        change_password(client, "wrong-horse-42", NEW_PASSWORD)
    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 429
    assert "Вход временно заблокирован" in response.content.decode()
    settled.refresh_from_db()
    assert settled.check_password(PASSWORD)


def test_change_with_the_current_password_keeps_the_session_and_emails_the_address(
    settled, mailoutbox, django_capture_on_commit_callbacks
):
    client = login_client(settled)
    with django_capture_on_commit_callbacks(execute=True):
        response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.redirect_chain[0] == ("/", 302)
    settled.refresh_from_db()
    assert settled.check_password(NEW_PASSWORD)
    assert client.get("/cabinet/").status_code == 200
    [mail] = mailoutbox
    assert mail.to == ["director@school1234.ru"]
    assert mail.subject == "ФИС ОКО: пароль учётной записи sch771234 изменён"
    text = mail.body + mail.alternatives[0][0]
    assert "Если вы пароль не меняли, подайте заявку на замену пароля" in mail.body
    assert NEW_PASSWORD not in text and PASSWORD not in text


def test_password_changed_email_links_to_the_portal_and_says_where_to_write(
    settled, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://lk-fisoko.example.ru"
    settings.SUPPORT_EMAIL = "help@example.ru"
    with django_capture_on_commit_callbacks(execute=True):
        change_password(login_client(settled), PASSWORD, NEW_PASSWORD)
    [mail] = mailoutbox
    assert mail.reply_to == ["help@example.ru"]
    for text in [mail.body, mail.alternatives[0][0]]:
        assert "https://lk-fisoko.example.ru/apply/" in text
        assert "https://lk-fisoko.example.ru/login/" in text
        assert "help@example.ru" in text


def test_forced_change_emails_the_address_too(issued, mailoutbox, django_capture_on_commit_callbacks):
    issued.email = "director@school1234.ru"
    issued.save()
    with django_capture_on_commit_callbacks(execute=True):
        set_password(login_client(issued), NEW_PASSWORD)
    [mail] = mailoutbox
    assert mail.to == ["director@school1234.ru"] and NEW_PASSWORD not in mail.body


def test_account_without_an_address_changes_its_password_and_gets_no_mail(
    school, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change_password(login_client(school), PASSWORD, NEW_PASSWORD)
    school.refresh_from_db()
    assert school.check_password(NEW_PASSWORD)
    assert mailoutbox == []
