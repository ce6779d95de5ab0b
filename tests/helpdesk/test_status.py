import pytest

from helpdesk.models import Status, Ticket

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
