import logging
import re
from unittest import mock

import factory
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import IntegrityError, models, transaction
from django.test import Client

from accounts.models import User
from helpdesk import outbox
from helpdesk.models import Channel, Delivery, Kind, Notification, Status, Ticket, TicketEvent
from helpdesk.services import (
    ServiceError,
    notification_resend,
    other_open_tickets,
    password_issue,
    ticket_phone_change,
    ticket_reject,
    ticket_submit,
    ticket_take,
)
from helpdesk.sms import locmem
from helpdesk.tasks import deliver_notification
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PHONE = "+79123456789"
EMAIL = "director@school1234.ru"
# Any 12-character word made of the issued-password alphabet, standing alone.
PASSWORD_SHAPED = re.compile(rf"(?<![A-Za-z0-9])[{outbox.PASSWORD_ALPHABET}]{{12}}(?![A-Za-z0-9])")
SMS_PASSWORD = re.compile(r"новый пароль: ([A-Za-z0-9]+)")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    organization_name = "ГБОУ «Школа № 1234»"
    information_system = "fis_oko"
    region_id = "77"
    phone = PHONE
    email = EMAIL
    organization_type = "school"
    login = "sch771234"
    role = "school"
    person_name = "Иванова Мария Петровна"
    reason = "lost"
    description = "Замена пароля"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def ticket(db):
    return TicketFactory()


def sms_password(message):
    match = SMS_PASSWORD.search(message.text)
    assert match, "the SMS carries no password"
    return match.group(1)


def log_in(username, password):
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return client, response


def assert_untouched(ticket, status=Status.NEW, assignee=None):
    ticket.refresh_from_db()
    assert ticket.status == status
    assert ticket.assignee == assignee
    assert ticket.rejection_reason == ""
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
    assert not Notification.objects.filter(ticket=ticket).exists()


# ticket_submit


def test_submitted_ticket_is_new_with_an_event_and_a_confirmation_email(
    valid_data, mailoutbox, django_capture_on_commit_callbacks
):
    data = {k: v for k, v in valid_data.items() if k not in {"consent", "website"}}
    data.update(region_id=data.pop("region"), phone=PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_submit(data=data, files=[])
    assert ticket.status == Status.NEW and ticket.role == "school"
    assert [(e.from_status, e.to_status) for e in ticket.events.all()] == [("", Status.NEW)]
    assert [m.subject for m in mailoutbox] == [f"Заявка № {ticket.number} зарегистрирована"]
    assert Notification.objects.get(ticket=ticket).status == Delivery.SENT


# ticket_take


def test_take_puts_a_new_ticket_in_progress_with_the_operator_as_assignee(ticket, operator):
    ticket_take(ticket=ticket, by=operator)
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.assignee == operator
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor, event.from_status, event.to_status) == (operator, Status.NEW, Status.IN_PROGRESS)
    assert "operator" in event.comment


@pytest.mark.parametrize("closed, label", [(Status.DONE, "выполнена"), (Status.REJECTED, "отклонена")])
def test_take_on_a_closed_ticket_is_refused_and_changes_nothing(operator, closed, label):
    ticket = TicketFactory(status=closed)
    with pytest.raises(ServiceError) as info:
        ticket_take(ticket=ticket, by=operator)
    assert str(info.value) == f"Заявка № {ticket.number} уже закрыта ({label})."
    assert_untouched(ticket, status=closed)


# password_issue


def test_password_issue_sends_the_password_and_the_ticket_is_done_once_the_sms_went(
    ticket, school, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        password_issue(ticket=ticket, by=operator)
    ticket.refresh_from_db()
    assert ticket.status == Status.DONE
    assert ticket.assignee == operator
    issued, sent = TicketEvent.objects.filter(ticket=ticket)
    assert (issued.actor, issued.from_status, issued.to_status) == (operator, Status.NEW, Status.SENDING)
    assert issued.comment == f"Новый пароль отправляется по SMS на {PHONE}"
    assert (sent.actor, sent.from_status, sent.to_status) == (None, Status.SENDING, Status.DONE)
    assert sent.comment == f"Новый пароль отправлен по SMS на {PHONE}"
    rows = Notification.objects.filter(ticket=ticket).order_by("pk")
    assert [(n.channel, n.kind, n.recipient, n.status) for n in rows] == [
        (Channel.SMS, Kind.PASSWORD, PHONE, Delivery.SENT),
        (Channel.EMAIL, Kind.DONE, EMAIL, Delivery.SENT),
    ]


def test_password_issue_keeps_the_operator_who_took_the_ticket(
    ticket, school, operator, django_capture_on_commit_callbacks
):
    other = User.objects.create_user("operator2", password=PASSWORD, is_staff=True)
    ticket_take(ticket=ticket, by=other)
    with django_capture_on_commit_callbacks(execute=True):
        password_issue(ticket=ticket, by=operator)
    ticket.refresh_from_db()
    assert ticket.assignee == other
    assert [e.to_status for e in ticket.events.all()] == [Status.IN_PROGRESS, Status.SENDING, Status.DONE]


@pytest.mark.parametrize(
    "case, message",
    [
        ("no account", "Учётной записи с логином «sch771234» нет: пароль выдать нельзя."),
        ("inactive", "Учётная запись «sch771234» заблокирована: пароль выдать нельзя."),
        ("staff", "Учётной записи с логином «sch771234» нет: пароль выдать нельзя."),
        ("done", "уже закрыта (выполнена)."),
        ("rejected", "уже закрыта (отклонена)."),
    ],
)
def test_password_issue_refusal_says_why_and_changes_nothing(
    make_account, operator, mailoutbox, sms_outbox, django_capture_on_commit_callbacks, case, message
):
    status = {"done": Status.DONE, "rejected": Status.REJECTED}.get(case, Status.NEW)
    if case == "inactive":
        make_account("sch771234", is_active=False)
    elif case == "staff":
        User.objects.create_user("sch771234", password=PASSWORD, is_staff=True)
    elif case != "no account":
        make_account("sch771234")
    ticket = TicketFactory(status=status)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError) as info:
        password_issue(ticket=ticket, by=operator)
    assert str(info.value).endswith(message)
    assert_untouched(ticket, status=status)
    assert sms_outbox == [] and mailoutbox == []
    for account in User.objects.filter(username="sch771234"):
        assert account.check_password(PASSWORD)
        assert not account.must_change_password


# ticket_reject


@pytest.mark.parametrize("reason", ["", "   \n", None])
def test_reject_without_a_reason_is_refused_and_changes_nothing(ticket, operator, mailoutbox, reason):
    with pytest.raises(ServiceError) as info:
        ticket_reject(ticket=ticket, by=operator, reason=reason)
    assert str(info.value) == "Укажите причину отклонения."
    assert_untouched(ticket)
    assert mailoutbox == []


def test_reject_records_the_reason_and_emails_it(
    ticket, operator, mailoutbox, django_capture_on_commit_callbacks
):
    reason = "Скан письма без печати организации"
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reject(ticket=ticket, by=operator, reason=f"  {reason} \n")
    ticket.refresh_from_db()
    assert ticket.status == Status.REJECTED
    assert ticket.rejection_reason == reason
    assert ticket.assignee == operator
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor, event.from_status, event.to_status, event.comment) == (
        operator,
        Status.NEW,
        Status.REJECTED,
        reason,
    )
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"Заявка № {ticket.number} отклонена"
    assert mail.to == [EMAIL]
    assert mail.from_email == django_settings.DEFAULT_FROM_EMAIL
    assert reason in mail.body
    assert reason in mail.alternatives[0][0]
    assert Notification.objects.get(ticket=ticket).status == Delivery.SENT


def test_reason_reads_as_typed_in_the_text_mail_and_escaped_in_the_html_one(
    ticket, operator, mailoutbox, django_capture_on_commit_callbacks
):
    reason = 'Нет подписи и «М.П.» & печати: "<руководитель>"'
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reject(ticket=ticket, by=operator, reason=reason)
    mail = mailoutbox[0]
    assert f"Причина: {reason}\n" in mail.body
    assert "&amp;" not in mail.body and "&quot;" not in mail.body
    html = mail.alternatives[0][0]
    assert "&amp; печати: &quot;&lt;руководитель&gt;&quot;" in html and "<руководитель>" not in html


def test_rejected_ticket_shows_the_reason_on_the_status_page(
    client, ticket, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reject(ticket=ticket, by=operator, reason="Скан письма без печати организации")
    html = client.post("/apply/status/", {"number": ticket.number, "email": EMAIL}).content.decode()
    assert 'data-testid="ticket-status">Отклонена<' in html
    assert "Скан письма без печати организации" in html


def test_reject_on_a_closed_ticket_is_refused_and_changes_nothing(operator, mailoutbox):
    ticket = TicketFactory(status=Status.DONE)
    with pytest.raises(ServiceError, match="уже закрыта"):
        ticket_reject(ticket=ticket, by=operator, reason="Поздно")
    assert_untouched(ticket, status=Status.DONE)
    assert mailoutbox == []


# notification_resend


@pytest.mark.parametrize("status", [Delivery.PENDING, Delivery.SENT])
def test_resend_is_only_for_failed_notifications(ticket, operator, mailoutbox, status):
    notification = Notification.objects.create(
        ticket=ticket, channel=Channel.EMAIL, kind=Kind.RECEIVED, recipient=EMAIL, status=status
    )
    with pytest.raises(ServiceError) as info:
        notification_resend(notification=notification, by=operator)
    assert str(info.value) == "Повторно отправить можно только уведомление с ошибкой."
    notification.refresh_from_db()
    assert notification.status == status
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
    assert mailoutbox == []


def test_resend_puts_a_failed_email_back_and_it_is_delivered(
    ticket, operator, mailoutbox, django_capture_on_commit_callbacks
):
    notification = Notification.objects.create(
        ticket=ticket,
        channel=Channel.EMAIL,
        kind=Kind.RECEIVED,
        recipient=EMAIL,
        status=Delivery.FAILED,
        attempts=1,
        last_error="SMTPRecipientsRefused: ...",
    )
    with django_capture_on_commit_callbacks(execute=True):
        notification_resend(notification=notification, by=operator)
    notification.refresh_from_db()
    assert notification.status == Delivery.SENT
    assert notification.last_error == ""
    assert notification.sent_at is not None
    assert [m.subject for m in mailoutbox] == [f"Заявка № {ticket.number} зарегистрирована"]
    event = TicketEvent.objects.get(ticket=ticket)
    assert event.actor == operator
    assert event.from_status == event.to_status == Status.NEW
    assert event.comment.startswith("Повторная отправка")


def test_resend_of_a_failed_password_sms_sends_a_working_password(
    school, operator, sms_outbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(status=Status.IN_PROGRESS, password_sms_failed=True)
    notification = Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE, status=Delivery.FAILED
    )
    with django_capture_on_commit_callbacks(execute=True):
        notification_resend(notification=notification, by=operator)
    notification.refresh_from_db()
    assert notification.status == Delivery.SENT
    assert len(sms_outbox) == 1
    _, response = log_in("sch771234", sms_password(sms_outbox[0]))
    assert response.status_code == 302


# other_open_tickets


def test_other_open_tickets_lists_only_open_ones_for_the_same_login(ticket):
    in_progress = TicketFactory(status=Status.IN_PROGRESS)
    another_new = TicketFactory()
    TicketFactory(status=Status.DONE)
    TicketFactory(status=Status.REJECTED)
    TicketFactory(login="sch775601")
    assert set(other_open_tickets(ticket)) == {in_progress, another_new}


def test_a_single_open_ticket_has_no_others(ticket):
    TicketFactory(login="sch775601")
    assert list(other_open_tickets(ticket)) == []


# Password issue, end to end


def text_columns():
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField)
        ]
        if fields:
            yield model, fields


def test_issued_password_reaches_only_the_sms(
    ticket, school, operator, mailoutbox, sms_outbox, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    with (
        mock.patch.object(deliver_notification, "delay", wraps=deliver_notification.delay) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        password_issue(ticket=ticket, by=operator)

    # The SMS carries the password, and it works; the user must then choose their own.
    assert len(sms_outbox) == 1
    assert sms_outbox[0].phone == PHONE
    password = sms_password(sms_outbox[0])
    assert len(password) == outbox.PASSWORD_LENGTH
    client, response = log_in("sch771234", password)
    assert response.status_code == 302 and response.url == "/cabinet/"
    cabinet = client.get("/cabinet/")
    assert cabinet.status_code == 302 and cabinet.url == "/password/"
    _, old = log_in("sch771234", PASSWORD)
    assert old.status_code == 200
    school.refresh_from_db()
    assert not school.check_password(PASSWORD)
    assert school.must_change_password

    # The email says the request is done, and nothing that looks like a password.
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"Заявка № {ticket.number} выполнена"
    assert "выполнена" in mail.body and "SMS" in mail.body
    for text in (mail.subject, mail.body, mail.alternatives[0][0]):
        assert password not in text
        assert PASSWORD_SHAPED.findall(text) == []

    # The broker message holds only the notification id.
    ids = set(Notification.objects.filter(ticket=ticket).values_list("pk", flat=True))
    assert len(ids) == 2
    assert [c.args for c in delay.call_args_list] == [(pk,) for pk in sorted(ids)]
    assert all(c.kwargs == {} for c in delay.call_args_list)

    # No table, no log.
    assert school.password != password and password not in school.password
    scanned = 0
    for model, fields in text_columns():
        for row in model.objects.values_list(*fields):
            scanned += 1
            assert not any(password in str(value) for value in row), model.__name__
    assert scanned > 0
    for model in (Ticket, TicketEvent, Notification, User):
        assert model in dict(text_columns())
    assert any("sent" in r.getMessage() for r in caplog.records)  # the capture works
    for record in caplog.records:
        assert password not in record.getMessage()
        assert password not in (record.exc_text or "")
    assert password not in caplog.text


def test_without_must_change_the_issued_password_opens_the_cabinet(
    ticket, school, operator, sms_outbox, settings, django_capture_on_commit_callbacks
):
    settings.ISSUED_PASSWORD_MUST_CHANGE = False
    with django_capture_on_commit_callbacks(execute=True):
        password_issue(ticket=ticket, by=operator)
    client, response = log_in("sch771234", sms_password(sms_outbox[0]))
    assert response.status_code == 302
    assert client.get("/cabinet/").status_code == 200
    school.refresh_from_db()
    assert not school.must_change_password
    assert "задайте свой пароль" not in sms_outbox[0].text


# Two requests for one login, and a resend after the user changed the password


def test_second_request_for_the_same_login_cannot_issue_while_a_password_is_on_its_way(
    school, operator, sms_outbox, django_capture_on_commit_callbacks
):
    first, second = TicketFactory(), TicketFactory()
    with django_capture_on_commit_callbacks(execute=False):  # the worker has not sent it yet
        password_issue(ticket=first, by=operator)
    first.refresh_from_db()
    assert first.status == Status.SENDING

    with pytest.raises(ServiceError) as info:
        password_issue(ticket=second, by=operator)
    assert str(info.value) == (
        f"По логину «sch771234» уже отправляется новый пароль (заявка № {first.number}): "
        "дождитесь, пока SMS уйдёт, или закройте эту заявку."
    )
    assert_untouched(second)
    assert Notification.objects.filter(kind=Kind.PASSWORD).count() == 1
    assert sms_outbox == []


def test_the_database_holds_one_sending_request_per_login(school):
    TicketFactory(status=Status.SENDING)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(status=Status.SENDING)
    TicketFactory(status=Status.SENDING, login="sch775601")  # another login may


def test_a_ticket_whose_password_is_on_its_way_takes_no_other_action(operator):
    ticket = TicketFactory(status=Status.SENDING)
    for action in (ticket_take, password_issue):
        with pytest.raises(ServiceError) as info:
            action(ticket=ticket, by=operator)
        assert str(info.value) == (
            f"По заявке № {ticket.number} отправляется новый пароль: дождитесь, пока SMS уйдёт."
        )
    assert_untouched(ticket, status=Status.SENDING)


def failed_password_sms(ticket, account):
    """A password SMS that failed for good: the request is back in the queue, the old hash restored."""
    return Notification.objects.create(
        ticket=ticket,
        channel=Channel.SMS,
        kind=Kind.PASSWORD,
        recipient=PHONE,
        status=Delivery.FAILED,
        previous_password_hash=account.password,
    )


def test_resend_of_an_old_password_sms_after_the_user_changed_the_password_is_refused(
    school, operator, sms_outbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(status=Status.IN_PROGRESS, password_sms_failed=True)
    notification = failed_password_sms(ticket, school)
    school.set_password("my-own-new-password-7")  # the user got in after all and set their own
    school.save()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError) as info:
        notification_resend(notification=notification, by=operator)
    assert str(info.value) == (
        "Пароль учётной записи «sch771234» сменён после выдачи: повторная отправка сбросила бы его. "
        "Если пароль всё же нужен, выдайте новый."
    )
    notification.refresh_from_db()
    assert notification.status == Delivery.FAILED
    assert not TicketEvent.objects.filter(ticket=ticket).exists()
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert sms_outbox == []
    school.refresh_from_db()
    assert school.check_password("my-own-new-password-7")


def test_resend_of_a_failed_password_sms_goes_to_the_corrected_phone_and_the_request_is_done(
    school, operator, sms_outbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory(status=Status.IN_PROGRESS, password_sms_failed=True)
    notification = failed_password_sms(ticket, school)
    ticket_phone_change(ticket=ticket, by=operator, phone="8 (916) 123-45-67")
    with django_capture_on_commit_callbacks(execute=True):
        notification_resend(notification=notification, by=operator)
    assert [m.phone for m in sms_outbox] == ["+79161234567"]
    _, response = log_in("sch771234", sms_password(sms_outbox[0]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.password_sms_failed) == (Status.DONE, False)
    assert [(e.from_status, e.to_status) for e in ticket.events.all()] == [
        (Status.IN_PROGRESS, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.SENDING),
        (Status.SENDING, Status.DONE),
    ]


# ticket_phone_change


def test_phone_change_records_the_old_and_the_new_number(ticket, operator):
    ticket_phone_change(ticket=ticket, by=operator, phone="+7 916 123-45-67")
    ticket.refresh_from_db()
    assert ticket.phone == "+79161234567"
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor, event.from_status, event.to_status) == (operator, Status.NEW, Status.NEW)
    assert event.comment == f"Телефон изменён: {PHONE} → +79161234567"


@pytest.mark.parametrize(
    "phone, message",
    [
        ("12345", "Введите номер мобильного телефона в России, например +7 912 345-67-89."),
        (
            "+7 495 123-45-67",
            "Это не мобильный номер. Укажите мобильный телефон: новый пароль приходит по SMS.",
        ),
        (PHONE, f"Телефон в заявке уже {PHONE}."),
    ],
)
def test_phone_change_refusal_says_why_and_changes_nothing(ticket, operator, phone, message):
    with pytest.raises(ServiceError) as info:
        ticket_phone_change(ticket=ticket, by=operator, phone=phone)
    assert str(info.value) == message
    ticket.refresh_from_db()
    assert ticket.phone == PHONE
    assert not TicketEvent.objects.filter(ticket=ticket).exists()


# /apply/status/ while the password is on its way


def test_status_page_says_the_password_is_on_its_way_until_the_sms_went(
    client, ticket, school, operator, settings, sms_outbox, django_capture_on_commit_callbacks
):
    def shown():
        html = client.post("/apply/status/", {"number": ticket.number, "email": EMAIL}).content.decode()
        return re.search(r'data-testid="ticket-status">([^<]+)<', html).group(1), html

    with django_capture_on_commit_callbacks(execute=False) as queued:
        password_issue(ticket=ticket, by=operator)
    status, html = shown()
    assert status == "Пароль отправляется"
    explanation = re.search(r'data-testid="status-explanation">([^<]+)<', html).group(1)
    assert "новый пароль отправляется по SMS" in explanation

    settings.SMS_BACKEND = "tests.helpdesk.test_outbox.DeadNumberBackend"
    for callback in queued:
        callback()
    status, _ = shown()
    assert status == "В работе", "a request whose SMS failed must not read as done"
    assert sms_outbox == []
