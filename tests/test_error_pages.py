"""404, 403, 500 and the CSRF failure in Russian, on the portal's own layout."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.error_urls")]


def test_missing_page_is_explained_in_russian_with_the_way_on(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<h1 class="h3">Страница не найдена</h1>' in html
    assert 'href="/apply/"' in html and 'href="/apply/status/"' in html
    assert "Not Found" not in html


def test_forbidden_page_is_in_russian(client):
    response = client.get("/test-forbidden/")
    assert response.status_code == 403
    assert "Доступ запрещён" in response.content.decode()


def test_server_error_page_is_in_russian_and_says_when_to_try_again():
    client = Client(raise_request_exception=False)
    response = client.get("/test-boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Ошибка на сервере" in html and "Повторите попытку через несколько минут" in html
    assert "Server Error" not in html


def test_expired_form_says_what_to_do_in_russian():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/apply/status/", {"number": "ABCD-EFGH", "email": "a@example.ru"})
    assert response.status_code == 403
    assert "Страница устарела" in response.content.decode()
