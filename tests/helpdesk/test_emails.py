"""Mail goes to an address nobody has verified: it must not carry a stranger's text, nor flood anyone.
Every email says where it comes from, links back to the portal and says where to write."""

import re
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
MARKERS = ["evil.example", "fisoko-login", "Срок действия", "Позвоните", "заблокирован"]
SITE = "https://lk-fisoko.example.ru"


def texts_of(mail):
    return [mail.subject, mail.body, *(content for content, _type in mail.alternatives)]


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE, Kind.REJECTED])
def test_no_email_quotes_what_the_requester_typed(kind, mailoutbox, settings):
    settings.SITE_URL = SITE
    ticket = TicketFactory(**PHISHING, rejection_reason="Скан письма не читается.")
    emails.send_for(kind, ticket)
    (mail,) = mailoutbox
    for text in texts_of(mail):
        for marker in MARKERS:
            assert marker not in text, (kind, marker)
        assert ticket.number in text
        # The only links are the portal's own.
        for url in re.findall(r"https?://[^\s\"<]+", text):
            assert url.startswith(f"{SITE}/"), (kind, url)


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE])
def test_email_names_the_login_and_the_phone_so_a_typo_is_caught(kind, mailoutbox):
    ticket = TicketFactory(**PHISHING)
    emails.send_for(kind, ticket)
    for text in texts_of(mailoutbox[0])[1:]:
        assert "sch771234" in text and "+7 912 345-67-89" in text


def test_rejection_quotes_the_operators_reason(mailoutbox):
    ticket = TicketFactory(**PHISHING, rejection_reason="Скан письма не читается.")
    emails.send_for(Kind.REJECTED, ticket)
    assert all("Причина: Скан письма не читается." in text for text in texts_of(mailoutbox[0])[1:])


def test_rejection_keeps_the_line_breaks_of_the_reason(mailoutbox):
    reason = "1. Нет печати организации.\n2. Логин в письме: sch771235, в заявке: sch771234."
    emails.send_for(Kind.REJECTED, TicketFactory(rejection_reason=reason))
    mail = mailoutbox[0]
    assert reason in mail.body
    html = mail.alternatives[0][0]
    assert "1. Нет печати организации.<br>2. Логин в письме: sch771235" in html


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE, Kind.REJECTED])
def test_every_email_links_to_the_status_page_with_its_number_a_new_request_and_the_login_page(
    kind, mailoutbox, settings
):
    settings.SITE_URL = SITE
    ticket = TicketFactory()
    emails.send_for(kind, ticket)
    status = f"{SITE}/apply/status/?number={ticket.number}"
    for text in texts_of(mailoutbox[0])[1:]:
        for url in [status, f"{SITE}/apply/", f"{SITE}/login/"]:
            assert url in text, (kind, url)


@pytest.mark.parametrize("kind", [Kind.RECEIVED, Kind.DONE, Kind.REJECTED])
def test_every_email_says_where_it_comes_from_where_to_write_and_to_look_in_spam(kind, mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "ФИС ОКО <servicedesk@fioco.ru>"
    settings.SUPPORT_EMAIL = "help@example.ru"
    emails.send_for(kind, TicketFactory())
    mail = mailoutbox[0]
    assert mail.reply_to == ["help@example.ru"]
    for text in texts_of(mail)[1:]:
        assert "приходят с адреса servicedesk@fioco.ru" in text
        assert "проверьте папку «Спам»" in text
        assert "напишите на" in text and "help@example.ru" in text


def test_the_confirmation_is_registered_not_accepted_and_says_the_answer_time(mailoutbox, settings):
    settings.HELPDESK_ANSWER_DAYS = 3
    ticket = TicketFactory()
    emails.send_for(Kind.RECEIVED, ticket)
    mail = mailoutbox[0]
    assert mail.subject == f"Заявка № {ticket.number} зарегистрирована"
    for text in texts_of(mail)[1:]:
        assert "зарегистрирована" in text and "принята" not in text
        assert "ответ — в течение 3 рабочих дней" in text


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
