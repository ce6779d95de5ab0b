import smtplib
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils import timezone

from helpdesk import outbox
from helpdesk.models import Channel, Delivery, Kind, Notification, Status
from helpdesk.services import notification_resend
from helpdesk.sms import BaseBackend, SmsError, locmem
from helpdesk.sms.locmem import LocmemBackend
from helpdesk.tasks import sweep_outbox
from tests.conftest import PASSWORD
from tests.helpdesk.test_services import EMAIL, PHONE, TicketFactory, sms_password

pytestmark = pytest.mark.django_db

FLAKY = "tests.helpdesk.test_outbox.FlakyBackend"
DEAD = "tests.helpdesk.test_outbox.DeadNumberBackend"
LOCMEM_MAIL = "django.core.mail.backends.locmem.EmailBackend"


class FlakyBackend(BaseBackend):
    """A gateway that times out ``failures`` more times, then delivers to the locmem outbox."""

    failures = 0

    def send(self, message):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise SmsError("Шлюз не ответил за 10 с", permanent=False)
        return LocmemBackend().send(message)


class DeadNumberBackend(BaseBackend):
    """A gateway that refuses the number for good."""

    calls = 0

    def send(self, message):
        DeadNumberBackend.calls += 1
        raise SmsError("Номер не обслуживается", permanent=True)


class DisconnectingMail(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class RefusingMail(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({EMAIL: (550, b"5.1.1 No such user")})


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    FlakyBackend.failures = 0
    DeadNumberBackend.calls = 0
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def password_sms(school):
    ticket = TicketFactory(status=Status.DONE)
    return Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE
    )


@pytest.fixture
def email(db):
    ticket = TicketFactory()
    return Notification.objects.create(
        ticket=ticket, channel=Channel.EMAIL, kind=Kind.RECEIVED, recipient=EMAIL
    )


def logs_in(password):
    response = Client().post("/login/", {"username": "sch771234", "password": password})
    return response.status_code == 302


def assert_old_password_valid(account):
    account.refresh_from_db()
    assert account.check_password(PASSWORD)
    assert not account.must_change_password


# SMS


def test_transient_sms_failure_keeps_the_old_password_and_a_later_attempt_sends_a_new_one(
    settings, school, password_sms, sms_outbox
):
    settings.SMS_BACKEND = FLAKY
    FlakyBackend.failures = 1

    assert outbox.deliver(password_sms.pk) == outbox.backoff(1)
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.PENDING
    assert password_sms.attempts == 1
    assert "Шлюз не ответил" in password_sms.last_error
    assert password_sms.next_attempt_at > timezone.now()
    assert password_sms.sent_at is None
    assert sms_outbox == []
    assert_old_password_valid(school)
    answers = Notification.objects.filter(ticket=password_sms.ticket, kind=Kind.DONE)
    assert not answers.exists(), "the email would say the password went by SMS while it has not"

    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.SENT
    assert password_sms.attempts == 2
    assert password_sms.last_error == ""
    assert password_sms.sent_at is not None
    assert password_sms.provider_id.startswith("locmem-")
    assert len(sms_outbox) == 1
    assert logs_in(sms_password(sms_outbox[0]))
    assert not logs_in(PASSWORD)
    assert [(n.channel, n.recipient) for n in answers] == [(Channel.EMAIL, password_sms.ticket.email)]


def test_permanent_sms_failure_fails_at_once_and_is_not_retried(settings, school, password_sms, sms_outbox):
    settings.SMS_BACKEND = DEAD
    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.FAILED
    assert password_sms.attempts == 1
    assert "Номер не обслуживается" in password_sms.last_error

    assert outbox.deliver(password_sms.pk) is None
    assert DeadNumberBackend.calls == 1
    password_sms.refresh_from_db()
    assert password_sms.attempts == 1
    assert_old_password_valid(school)


def test_after_max_attempts_transient_failures_the_sms_fails(settings, school, password_sms, sms_outbox):
    settings.SMS_BACKEND = FLAKY
    FlakyBackend.failures = outbox.MAX_ATTEMPTS + 5
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        assert outbox.deliver(password_sms.pk) == outbox.backoff(attempt)
        password_sms.refresh_from_db()
        assert (password_sms.status, password_sms.attempts) == (Delivery.PENDING, attempt)
    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.FAILED
    assert password_sms.attempts == outbox.MAX_ATTEMPTS
    assert outbox.deliver(password_sms.pk) is None
    assert sms_outbox == []
    assert_old_password_valid(school)


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]


def test_delivering_the_same_sms_twice_sends_it_once(school, password_sms, sms_outbox):
    assert outbox.deliver(password_sms.pk) is None
    assert outbox.deliver(password_sms.pk) is None
    assert len(sms_outbox) == 1
    password_sms.refresh_from_db()
    assert (password_sms.status, password_sms.attempts) == (Delivery.SENT, 1)
    assert logs_in(sms_password(sms_outbox[0]))


def test_password_sms_for_a_blocked_account_fails_and_sends_nothing(school, password_sms, sms_outbox):
    school.is_active = False
    school.save()
    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.FAILED
    assert "sch771234" in password_sms.last_error
    assert sms_outbox == []


def test_password_sms_never_resets_a_staff_account_password(make_account, sms_outbox):
    # password_issue refuses a staff account; delivery (e.g. a resend later) must apply the same rule.
    staff = make_account("sch771234", is_staff=True)
    ticket = TicketFactory(status=Status.DONE)
    notification = Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE
    )
    outbox.deliver(notification.pk)
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)
    assert sms_outbox == []
    notification.refresh_from_db()
    assert notification.status == Delivery.FAILED


def test_resent_notification_is_retried_again_after_a_transient_failure(
    settings, school, operator, password_sms, sms_outbox, django_capture_on_commit_callbacks
):
    # It failed after MAX_ATTEMPTS; the operator resends it while the gateway still hiccups once.
    Notification.objects.filter(pk=password_sms.pk).update(
        status=Delivery.FAILED, attempts=outbox.MAX_ATTEMPTS, last_error="SmsError: Шлюз не ответил"
    )
    settings.SMS_BACKEND = FLAKY
    FlakyBackend.failures = 1
    with django_capture_on_commit_callbacks(execute=True):
        notification_resend(notification=password_sms, by=operator)
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.PENDING, "one hiccup after a resend loses the SMS again"
    assert "Шлюз не ответил" in password_sms.last_error
    assert outbox.deliver(password_sms.pk) is None
    assert logs_in(sms_password(sms_outbox[0]))


# Email


def test_disconnected_mail_server_leaves_the_email_pending_for_a_retry(settings, email, mailoutbox):
    settings.EMAIL_BACKEND = "tests.helpdesk.test_outbox.DisconnectingMail"
    assert outbox.deliver(email.pk) == outbox.backoff(1)
    email.refresh_from_db()
    assert email.status == Delivery.PENDING
    assert email.attempts == 1
    assert "SMTPServerDisconnected" in email.last_error
    assert email.next_attempt_at > timezone.now()

    settings.EMAIL_BACKEND = LOCMEM_MAIL
    assert outbox.deliver(email.pk) is None
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Delivery.SENT, 2)
    assert len(mailoutbox) == 1


def test_refused_recipient_fails_the_email_at_once(settings, email, mailoutbox):
    settings.EMAIL_BACKEND = "tests.helpdesk.test_outbox.RefusingMail"
    assert outbox.deliver(email.pk) is None
    email.refresh_from_db()
    assert email.status == Delivery.FAILED
    assert email.attempts == 1
    assert "SMTPRecipientsRefused" in email.last_error

    settings.EMAIL_BACKEND = LOCMEM_MAIL
    assert outbox.deliver(email.pk) is None
    assert mailoutbox == []


# The sweep


def test_sweep_requeues_overdue_rows_and_leaves_future_ones(settings, school, mailoutbox, sms_outbox):
    settings.OUTBOX_SWEEP_GRACE = 0
    past = timezone.now() - timedelta(minutes=5)
    future = timezone.now() + timedelta(minutes=5)
    ticket = TicketFactory(status=Status.DONE)
    # Written with the change, never queued: the broker was down at commit.
    overdue_sms = Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE, next_attempt_at=past
    )
    overdue_email = Notification.objects.create(
        ticket=ticket, channel=Channel.EMAIL, kind=Kind.RECEIVED, recipient=EMAIL, next_attempt_at=past
    )
    waiting = Notification.objects.create(
        ticket=ticket,
        channel=Channel.EMAIL,
        kind=Kind.RECEIVED,
        recipient=EMAIL,
        attempts=1,
        next_attempt_at=future,
    )
    Notification.objects.create(
        ticket=ticket,
        channel=Channel.EMAIL,
        kind=Kind.RECEIVED,
        recipient=EMAIL,
        status=Delivery.FAILED,
        next_attempt_at=past,
    )

    assert sweep_outbox() == 2

    for row in (overdue_sms, overdue_email):
        row.refresh_from_db()
        assert row.status == Delivery.SENT
    assert [m.subject for m in mailoutbox] == [f"Заявка № {ticket.number} зарегистрирована"]
    assert logs_in(sms_password(sms_outbox[0]))
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (Delivery.PENDING, 1)
    # The SMS went out, which wrote the answer by email; the broker never got it, the sweep does.
    assert sweep_outbox() == 1
    assert [m.subject for m in mailoutbox][1:] == [f"Заявка № {ticket.number} выполнена"]
    assert sweep_outbox() == 0


def test_sweep_gives_a_just_queued_row_its_grace(settings, email, mailoutbox):
    settings.OUTBOX_SWEEP_GRACE = 60
    assert sweep_outbox() == 0
    email.refresh_from_db()
    assert email.status == Delivery.PENDING
    assert mailoutbox == []


# new_password


def test_new_password_is_twelve_unambiguous_mixed_characters():
    passwords = [outbox.new_password() for _ in range(200)]
    assert len(set(passwords)) == 200
    for password in passwords:
        assert len(password) == 12
        assert password.isascii() and password.isalnum()
        assert not set(password) & set("0O1lI")
        assert set(password) <= set(outbox.PASSWORD_ALPHABET)
        assert any(c.isupper() for c in password)
        assert any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)
