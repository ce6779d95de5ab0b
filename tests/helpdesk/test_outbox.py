import smtplib
import threading
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from helpdesk import outbox
from helpdesk.models import Channel, Delivery, Kind, Notification, Status, TicketEvent
from helpdesk.services import notification_resend
from helpdesk.sms import BaseBackend, SmsError, locmem
from helpdesk.sms.locmem import LocmemBackend
from helpdesk.tasks import sweep_outbox
from tests.conftest import PASSWORD, require_service
from tests.helpdesk.test_services import EMAIL, PHONE, TicketFactory, sms_password

pytestmark = pytest.mark.django_db

FLAKY = "tests.helpdesk.test_outbox.FlakyBackend"
LATE = "tests.helpdesk.test_outbox.LateBackend"
WATCHING = "tests.helpdesk.test_outbox.WatchingBackend"
STATUS_DOWN = "tests.helpdesk.test_outbox.StatusDownBackend"
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


class LateBackend(LocmemBackend):
    """A gateway that takes the next ``taken`` SMS and loses its answer (the client timed out);
    ``lost`` more requests it never gets at all. It knows the status of what it took (locmem's)."""

    taken = 0
    lost = 0

    def send(self, message):
        if LateBackend.taken > 0:
            LateBackend.taken -= 1
            super().send(message)
            raise SmsError("SMSC did not answer within 10 s", unclear=True)
        if LateBackend.lost > 0:
            LateBackend.lost -= 1
            raise SmsError("connection to SMSC failed: RemoteDisconnected", unclear=True)
        return super().send(message)


class StatusDownBackend(LateBackend):
    """LateBackend whose status API cannot be reached."""

    def status(self, message):
        raise SmsError("cannot reach SMSC: Connection refused")


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
    LateBackend.taken = LateBackend.lost = 0
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def password_sms(school):
    ticket = TicketFactory(status=Status.SENDING)
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
    assert password_sms.provider_id == str(password_sms.pk * 100 + 2)  # its own id for each attempt
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


def come_due(notification):
    """Let the time of the row's next attempt come."""
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())


def test_sms_the_gateway_took_but_answered_late_is_settled_by_its_status_and_no_second_password_made(
    settings, school, password_sms, sms_outbox
):
    settings.SMS_BACKEND = LATE
    LateBackend.taken = 1

    assert outbox.deliver(password_sms.pk) == outbox.backoff(1)
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.SENDING
    assert "did not answer" in password_sms.last_error
    assert len(sms_outbox) == 1
    # Committed before the gateway was called: the password in the SMS works at once.
    password = sms_password(sms_outbox[0])
    assert logs_in(password)
    assert outbox.deliver(password_sms.pk) is None, "the row waits for its retry"
    password_sms.ticket.refresh_from_db()
    assert password_sms.ticket.status == Status.SENDING

    come_due(password_sms)
    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert (password_sms.status, password_sms.attempts) == (Delivery.SENT, 2)
    assert password_sms.previous_password_hash == password_sms.issued_password_hash == ""
    assert len(sms_outbox) == 1, "a second password was sent for an SMS the gateway had"
    assert logs_in(password)
    assert not logs_in(PASSWORD)
    password_sms.ticket.refresh_from_db()
    assert password_sms.ticket.status == Status.DONE
    answers = Notification.objects.filter(ticket=password_sms.ticket, kind=Kind.DONE)
    assert [(n.channel, n.recipient) for n in answers] == [(Channel.EMAIL, EMAIL)]


def test_sms_the_gateway_never_got_is_found_missing_and_one_new_password_goes_out(
    settings, school, password_sms, sms_outbox
):
    settings.SMS_BACKEND = LATE
    LateBackend.lost = 1
    assert outbox.deliver(password_sms.pk) == outbox.backoff(1)
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.SENDING
    first_id = password_sms.provider_id

    come_due(password_sms)
    assert outbox.deliver(password_sms.pk) is None
    password_sms.refresh_from_db()
    assert password_sms.status == Delivery.SENT
    assert password_sms.provider_id != first_id, "each request to the gateway has its own id"
    assert [m.id for m in sms_outbox] == [password_sms.provider_id]
    assert logs_in(sms_password(sms_outbox[0]))
    assert not logs_in(PASSWORD)


def test_sms_whose_fate_cannot_be_learnt_fails_after_max_attempts_and_the_request_comes_back(
    settings, school, password_sms, sms_outbox
):
    # The status is asked of the gateway that was given the message (the row's), so one backend
    # loses the answer and then cannot be asked.
    settings.SMS_BACKEND = STATUS_DOWN
    LateBackend.lost = 1
    outbox.deliver(password_sms.pk)
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        come_due(password_sms)
        outbox.deliver(password_sms.pk)
    password_sms.refresh_from_db()
    assert (password_sms.status, password_sms.attempts) == (Delivery.FAILED, outbox.MAX_ATTEMPTS)
    assert sms_outbox == []
    ticket = password_sms.ticket
    ticket.refresh_from_db()
    assert (ticket.status, ticket.password_sms_failed) == (Status.IN_PROGRESS, True)


@pytest.mark.django_db(transaction=True)
def test_the_new_password_is_committed_before_the_gateway_call_which_holds_no_lock_on_the_user(
    reference_data, settings, school, password_sms
):
    # Regions come from a data migration, which an earlier transactional test's flush removed.
    require_service(connection.vendor == "postgresql", "row locks need PostgreSQL (DATABASE_URL)")
    settings.SMS_BACKEND = WATCHING
    assert outbox.deliver(password_sms.pk) is None
    seen = WatchingBackend.seen
    assert seen["locked"] is False, "the user's row was locked while the gateway was called"
    assert seen["works"] is True, "the password in the SMS was not committed before the call"


class WatchingBackend(LocmemBackend):
    """While the gateway is called, look at the user from another connection."""

    seen = {}

    def send(self, message):
        password = message.text.split("новый пароль: ")[1].split(".")[0]

        def look():
            try:
                with transaction.atomic():
                    account = User.objects.select_for_update(nowait=True).get(username="sch771234")
                    WatchingBackend.seen = {"locked": False, "works": account.check_password(password)}
            except Exception as error:  # noqa: BLE001 - reported by the assertion
                WatchingBackend.seen = {"locked": True, "works": None, "error": repr(error)}
            finally:
                connections.close_all()

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(10)
        return super().send(message)


def test_permanently_failed_password_sms_puts_the_request_back_in_the_queue_saying_why(
    settings, school, password_sms, sms_outbox
):
    settings.SMS_BACKEND = DEAD
    assert outbox.deliver(password_sms.pk) is None
    ticket = password_sms.ticket
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.password_sms_failed
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor, event.from_status, event.to_status) == (None, Status.SENDING, Status.IN_PROGRESS)
    assert "SMS с паролем не отправлено на +79123456789: Номер не обслуживается" in event.comment
    assert "выдайте пароль снова" in event.comment
    assert_old_password_valid(school)
    assert not Notification.objects.filter(kind=Kind.DONE).exists(), "a «done» email, with no password"


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
    password_sms.ticket.refresh_from_db()
    assert password_sms.ticket.status == Status.IN_PROGRESS, "a blocked account's request stays «Выполнена»"


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
    # It failed after MAX_ATTEMPTS, which put the request back in the queue; the operator resends it
    # while the gateway still hiccups once.
    Notification.objects.filter(pk=password_sms.pk).update(
        status=Delivery.FAILED, attempts=outbox.MAX_ATTEMPTS, last_error="SmsError: Шлюз не ответил"
    )
    password_sms.ticket.status = Status.IN_PROGRESS
    password_sms.ticket.save()
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


# What the password SMS says, and what it costs


@pytest.mark.parametrize("must_change", [True, False])
def test_password_sms_is_one_ucs2_segment_for_the_longest_login_and_ends_with_the_password(
    settings, make_account, sms_outbox, must_change
):
    settings.ISSUED_PASSWORD_MUST_CHANGE = must_change
    # regRR_vpr_mNNN is the longest login shape (14 characters); its text is Cyrillic, so UCS-2.
    longest = "reg77_vpr_m003"
    make_account(longest)
    ticket = TicketFactory(status=Status.SENDING, login=longest, role="municipal_vpr")
    notification = Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE
    )

    assert outbox.deliver(notification.pk) is None
    [message] = sms_outbox
    assert len(message.text) <= outbox.SMS_SEGMENT_UCS2 == 70
    assert any("а" <= char.lower() <= "я" for char in message.text), "Russian reader, Russian text"
    password = message.text.rsplit(" ", 1)[1]
    assert message.text.endswith(f"новый пароль: {password}"), "nothing may follow the password"
    assert longest in message.text
    response = Client().post("/login/", {"username": longest, "password": password})
    assert response.status_code == 302, "the last word of the SMS is the password, whole"
