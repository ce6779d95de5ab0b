"""Mail goes to an address nobody has verified: it must not carry a stranger's text, nor flood anyone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk import emails
from helpdesk.models import Kind, Notification, Ticket, TicketEvent
from tests.helpdesk.conftest import pdf
from tests.helpdesk.test_services import TicketFactory

pytestmark = pytest.mark.django_db

# What a phisher types into the free fields, hoping the desk's own domain mails it on.
PHISHING = {
    "organization_name": "Срок действия пароля истёк, войдите на https://fisoko-login.example/",
    "person_name": "Войдите по ссылке https://evil.example/a",
    "head_name": "Позвоните +7 900 000-00-00",
    "description": "Ваш аккаунт заблокирован <a href='https://evil.example/b'>разблокировать</a>",
}
MARKERS = ["https://", "evil.example", "fisoko-login", "Срок действия", "Позвоните", "заблокирован"]


def texts_of(mail):
    return [mail.subject, mail.body, *(content for content, _type in mail.alternatives)]


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE, Kind.REJECTED])
def test_no_email_quotes_what_the_requester_typed(kind, mailoutbox):
    ticket = TicketFactory(**PHISHING, rejection_reason="Скан письма не читается.")
    emails.send_for(kind, ticket)
    (mail,) = mailoutbox
    for text in texts_of(mail):
        for marker in MARKERS:
            assert marker not in text, (kind, marker)
        assert ticket.number in text


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE])
def test_email_names_the_login_and_the_phone_so_a_typo_is_caught(kind, mailoutbox):
    ticket = TicketFactory(**PHISHING)
    emails.send_for(kind, ticket)
    for text in texts_of(mailoutbox[0])[1:]:
        assert "sch771234" in text and "+79123456789" in text


def test_rejection_quotes_the_operators_reason(mailoutbox):
    ticket = TicketFactory(**PHISHING, rejection_reason="Скан письма не читается.")
    emails.send_for(Kind.REJECTED, ticket)
    assert all("Причина: Скан письма не читается." in text for text in texts_of(mailoutbox[0])[1:])


def file_request(client, valid_data, **changes):
    response = client.post("/apply/", {**valid_data, **changes, "attachments": [pdf()]})
    assert response.status_code == 302 and response.url == "/apply/done/"
    return client.get("/apply/done/").content.decode()


def test_confirmations_to_one_address_stop_at_the_daily_cap_and_the_request_is_still_filed(
    client, valid_data, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.HELPDESK_EMAIL_PER_ADDRESS_DAY = 2
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            page = file_request(client, valid_data)
            assert "отправлено подтверждение с номером заявки" in page
        # The same address in other letters is the same mailbox.
        page = file_request(client, valid_data, email="Director@School1234.RU")
    assert len(mailoutbox) == 2
    assert Ticket.objects.count() == 3
    last = Ticket.objects.get(email="Director@School1234.RU")
    assert last.number in page
    assert "Подтверждение на указанный адрес электронной почты не отправлено" in page
    event = TicketEvent.objects.get(ticket=last)
    assert "Подтверждение по e-mail не отправлено: на этот адрес за сутки уже отправлено 2" in event.comment
    assert not Notification.objects.filter(ticket=last).exists()


def test_the_cap_counts_one_address_for_one_day(
    client, valid_data, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.HELPDESK_EMAIL_PER_ADDRESS_DAY = 1
    with django_capture_on_commit_callbacks(execute=True):
        file_request(client, valid_data)
        file_request(client, valid_data, email="another@school1234.ru")  # another address: mailed
        Notification.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
        file_request(client, valid_data)  # a day later: mailed again
    assert [m.to for m in mailoutbox] == [["director@school1234.ru"], ["another@school1234.ru"]] + [
        ["director@school1234.ru"]
    ]
