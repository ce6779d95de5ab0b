from datetime import datetime

import pytest
from django.utils import timezone
from django.utils.html import escape

from helpdesk import wording
from helpdesk.models import Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket():
    return Ticket.objects.create(
        organization_name="ГБОУ «Школа № 1234»",
        information_system="fis_oko",
        region_id="77",
        phone="+79123456789",
        email="director@school1234.ru",
        organization_type="school",
        login="sch771234",
        role="school",
        person_name="Иванова М. П.",
        reason="lost",
        description="Замена пароля",
    )


def check(client, number, email, **extra):
    return client.post("/apply/status/", {"number": number, "email": email}, **extra)


def test_right_pair_shows_the_status(client, ticket):
    html = check(client, ticket.number, "director@school1234.ru").content.decode()
    assert 'data-testid="ticket-status">Новая<' in html
    assert ticket.number in html


def test_number_and_email_are_forgiving_about_case_and_spaces(client, ticket):
    html = check(client, f" {ticket.number.lower()} ", "Director@School1234.ru").content.decode()
    assert 'data-testid="ticket-status">Новая<' in html


def test_rejected_request_shows_the_reason(client, ticket):
    ticket.status, ticket.rejection_reason = Status.REJECTED, "Скан письма без печати организации"
    ticket.save()
    html = check(client, ticket.number, "director@school1234.ru").content.decode()
    assert "Отклонена" in html and "Скан письма без печати организации" in html


@pytest.mark.parametrize(
    "number, email", [("right", "other@school.ru"), ("ZZZZ-ZZZZ", "director@school1234.ru")]
)
def test_wrong_pair_shows_only_not_found(client, ticket, number, email):
    html = check(client, ticket.number if number == "right" else number, email).content.decode()
    assert "Заявка не найдена. Проверьте номер заявки и адрес электронной почты." in html
    assert "ticket-status" not in html and "ГБОУ" not in html


def test_status_check_is_throttled_per_address(client, ticket, settings):
    settings.HELPDESK_STATUS_RATE = (3, 600)
    for _ in range(3):
        assert check(client, "ZZZZ-ZZZZ", "x@y.ru").status_code == 200
    blocked = check(client, ticket.number, "director@school1234.ru")
    assert blocked.status_code == 429 and "ticket-status" not in blocked.content.decode()
    assert check(client, ticket.number, "director@school1234.ru", REMOTE_ADDR="10.0.0.9").status_code == 200


@pytest.mark.parametrize(
    "typed",
    [
        "АВСЕ-НК23",  # Cyrillic look-alikes, the Russian layout
        "АВСЕ нк23",  # …in lower case, with a space instead of the dash
        "авсенк23",  # …without the dash
        "abce hk 23",
        "№ ABCE-HK23",  # copied with the «№» of the subject line
    ],
)
def test_number_typed_in_the_russian_layout_or_without_the_dash_finds_the_request(client, ticket, typed):
    ticket.number = "ABCE-HK23"
    ticket.save()
    html = check(client, typed, "director@school1234.ru").content.decode()
    assert 'data-testid="ticket-status">Новая<' in html and "ABCE-HK23" in html


def test_a_look_alike_number_still_needs_the_email(client, ticket):
    ticket.number = "ABCE-HK23"
    ticket.save()
    html = check(client, "авсе нк23", "other@school.ru").content.decode()
    assert "Заявка не найдена." in html and "ticket-status" not in html


def test_link_from_the_email_fills_in_the_number_only(client, ticket):
    html = client.get("/apply/status/", {"number": ticket.number}).content.decode()
    assert f'name="number" value="{ticket.number}"' in html
    assert 'name="email"' in html and "director@school1234.ru" not in html
    assert "ticket-status" not in html  # nothing is looked up without the email


def test_a_text_that_is_no_number_is_not_filled_in(client):
    html = client.get("/apply/status/", {"number": '"><script>x</script>'}).content.decode()
    assert "<script>x" not in html and 'name="number" value=' not in html


def test_every_status_has_an_explanation():
    for status in Status:
        assert wording.STATUS_EXPLANATIONS.get(status), status


@pytest.mark.parametrize("status", list(Status))
def test_status_page_explains_the_status_and_says_since_when(client, ticket, status):
    since = timezone.make_aware(datetime(2026, 3, 12, 14, 5))
    event = TicketEvent.objects.create(ticket=ticket, to_status=status)
    TicketEvent.objects.filter(pk=event.pk).update(created_at=since)
    ticket.status = status
    ticket.save()
    html = check(client, ticket.number, "director@school1234.ru").content.decode()
    assert f'data-testid="ticket-status">{status.label}<' in html
    assert 'data-testid="status-since">с 12.03.2026 14:05<' in html
    assert f'data-testid="status-explanation">{escape(wording.explain(status))}<' in html


def test_a_new_request_is_promised_an_answer_in_working_days(client, ticket, settings):
    settings.HELPDESK_ANSWER_DAYS = 1
    html = check(client, ticket.number, "director@school1234.ru").content.decode()
    assert "Ответ — в течение 1 рабочего дня со дня регистрации." in html


def test_the_page_says_where_mail_comes_from_and_to_look_in_spam(client):
    html = client.get("/apply/status/").content.decode()
    assert "приходят с адреса servicedesk@fioco.ru" in html and "проверьте папку «Спам»" in html


def test_rejection_reason_keeps_its_line_breaks(client, ticket):
    ticket.status = Status.REJECTED
    ticket.rejection_reason = "1. Нет печати.\n2. Логин в письме другой.\n<b>не разметка</b>"
    ticket.save()
    html = check(client, ticket.number, "director@school1234.ru").content.decode()
    assert "1. Нет печати.<br>2. Логин в письме другой.<br>&lt;b&gt;не разметка&lt;/b&gt;" in html
