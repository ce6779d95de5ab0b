"""The page after filing: the number, the phone the SMS goes to, and what happens next."""

import pytest

from helpdesk.models import Ticket
from tests.helpdesk.conftest import pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_page(client, valid_data, django_capture_on_commit_callbacks):
    def file(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/apply/", {**valid_data, **changes, "attachments": [pdf()]})
        assert response.url == "/apply/done/"
        return client.get("/apply/done/").content.decode()

    return file


def test_done_page_shows_the_phone_the_sms_will_go_to(done_page):
    html = done_page(phone="8 912 345-67-89")
    assert 'data-testid="sms-phone">+7 912 345-67-89<' in html
    assert "Если в номере ошибка, подайте" in html


def test_done_page_says_registered_not_accepted(done_page):
    html = done_page()
    assert '<h1 class="h4">Заявка зарегистрирована</h1>' in html and "принята" not in html


def test_done_page_says_where_mail_comes_from_and_to_look_in_spam(done_page, settings):
    settings.DEFAULT_FROM_EMAIL = "ФИС ОКО <servicedesk@fioco.ru>"
    html = done_page()
    assert "приходят с адреса <strong>servicedesk@fioco.ru</strong>" in html
    assert "проверьте папку «Спам»" in html


def test_done_page_gives_the_answer_time_and_the_support_address(done_page, settings):
    settings.HELPDESK_ANSWER_DAYS = 2
    settings.SUPPORT_EMAIL = "help@example.ru"
    html = done_page()
    assert "Ответ — в течение 2 рабочих дней." in html
    assert 'href="mailto:help@example.ru"' in html


def test_done_page_links_to_the_status_page_with_the_number(done_page):
    html = done_page()
    assert f'href="/apply/status/?number={Ticket.objects.get().number}"' in html
