"""A second SMS gateway: SMS_BACKEND="primary,fallback" (issue 16, item 8).

The primary is SMSC.ru played by a real local HTTP server (tests/smsc_server.py); the fallback a
locmem backend of its own class, so that the row can say which of the two took the message.
"""

import time

import pytest
from django.test import Client

from helpdesk import checks, outbox, sms
from helpdesk.models import Channel, Delivery, Kind, Notification, Status
from helpdesk.sms import BaseBackend, SmsError, locmem
from helpdesk.sms.locmem import LocmemBackend
from tests.helpdesk.test_services import PHONE, TicketFactory, sms_password
from tests.smsc_server import SmscServer

pytestmark = pytest.mark.django_db

FALLBACK = "tests.helpdesk.test_sms_fallback.FallbackBackend"
DOWN = "tests.helpdesk.test_sms_fallback.DownBackend"
SMSC_PASSWORD = "secret"


class FallbackBackend(LocmemBackend):
    """The second gateway; fails ``failures`` more times before it takes messages."""

    failures = 0
    status_asked = 0

    def send(self, message):
        if FallbackBackend.failures > 0:
            FallbackBackend.failures -= 1
            raise SmsError("fallback: 503 Service Unavailable")
        return super().send(message)

    def status(self, message):
        FallbackBackend.status_asked += 1
        return super().status(message)


class DownBackend(BaseBackend):
    """A primary that refuses every connection."""

    def send(self, message):
        raise SmsError("cannot reach the gateway: Connection refused")


@pytest.fixture(autouse=True)
def sms_outbox():
    locmem.outbox.clear()
    FallbackBackend.failures = FallbackBackend.status_asked = 0
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def smsc(settings):
    with SmscServer(login="fisoko", password=SMSC_PASSWORD) as server:
        settings.SMS_BACKEND = f"smsc,{FALLBACK}"
        settings.SMSC_URL = server.url
        settings.SMSC_LOGIN = "fisoko"
        settings.SMSC_PASSWORD = SMSC_PASSWORD
        settings.SMSC_SENDER = ""
        settings.SMSC_TIMEOUT = 5.0
        yield server


@pytest.fixture
def password_sms(school):
    ticket = TicketFactory(status=Status.SENDING)
    return Notification.objects.create(
        ticket=ticket, channel=Channel.SMS, kind=Kind.PASSWORD, recipient=PHONE
    )


def deliver_as_the_worker_would(notification, limit=60):
    """Deliver, sleep the retry delay the outbox asks for, deliver again, until it asks none more."""
    started = time.monotonic()
    delay = outbox.deliver(notification.pk)
    while delay is not None and time.monotonic() - started < limit:
        time.sleep(delay)
        delay = outbox.deliver(notification.pk)
    notification.refresh_from_db()
    return time.monotonic() - started


def logs_in(password):
    return Client().post("/login/", {"username": "sch771234", "password": password}).status_code == 302


def test_backend_names_read_a_primary_and_a_fallback_and_one_name_as_before(settings):
    settings.SMS_BACKEND = "smsc"
    assert sms.backend_names() == ["smsc"]
    settings.SMS_BACKEND = f" smsc , {FALLBACK} "
    assert sms.backend_names() == ["smsc", FALLBACK]
    assert isinstance(sms.get_backend(), sms.smsc.SmscBackend)
    assert isinstance(sms.get_backend(FALLBACK), FallbackBackend)


def test_primary_failing_transiently_the_fallback_delivers_within_seconds_and_the_row_says_which(
    smsc, password_sms, sms_outbox
):
    smsc.fail_next(100, 9)  # «too many concurrent requests»: transient, for as long as the test runs

    elapsed = deliver_as_the_worker_would(password_sms)

    assert elapsed < 5, f"the fallback took {elapsed:.1f} s"
    assert (password_sms.status, password_sms.gateway) == (Delivery.SENT, FALLBACK)
    assert password_sms.attempts == 2
    assert len(smsc.requests) == 1 and smsc.messages == []
    [message] = sms_outbox
    assert logs_in(sms_password(message))
    password_sms.ticket.refresh_from_db()
    assert password_sms.ticket.status == Status.DONE


def test_the_primary_that_works_delivers_and_the_fallback_is_not_used(smsc, password_sms, sms_outbox):
    deliver_as_the_worker_would(password_sms)
    assert (password_sms.status, password_sms.gateway, password_sms.attempts) == (Delivery.SENT, "smsc", 1)
    assert len(smsc.messages) == 1 and sms_outbox == []


def test_three_gateway_errors_in_a_row_cost_seconds_not_minutes(settings, password_sms, sms_outbox):
    settings.SMS_BACKEND = f"{DOWN},{FALLBACK}"
    FallbackBackend.failures = 1  # down, fallback failing, down: three errors, then the fallback takes it

    delays = [outbox.deliver(password_sms.pk)]
    while delays[-1] is not None:
        Notification.objects.filter(pk=password_sms.pk).update(next_attempt_at=password_sms.created_at)
        delays.append(outbox.deliver(password_sms.pk))

    assert delays == [settings.SMS_FALLBACK_DELAY] * 3 + [None]
    assert sum(delays[:-1]) <= 10, "with one gateway they cost 30 + 60 + 120 s"
    password_sms.refresh_from_db()
    assert (password_sms.status, password_sms.gateway, password_sms.attempts) == (Delivery.SENT, FALLBACK, 4)
    assert len(sms_outbox) == 1


def test_with_both_gateways_failing_the_retries_back_off_after_the_quick_ones(settings, password_sms):
    settings.SMS_BACKEND = f"{DOWN},{DOWN}"
    delays = []
    for _ in range(5):
        Notification.objects.filter(pk=password_sms.pk).update(next_attempt_at=password_sms.created_at)
        delays.append(outbox.deliver(password_sms.pk))
    quick = settings.SMS_FALLBACK_DELAY
    assert delays == [quick, quick, quick, outbox.backoff(1), outbox.backoff(2)]


def test_an_answer_lost_by_the_primary_is_asked_of_the_primary_not_sent_again_through_the_fallback(
    smsc, password_sms, sms_outbox
):
    smsc.drop_after_accept_next(1)  # SMSC takes the SMS; its answer never comes back

    elapsed = deliver_as_the_worker_would(password_sms)

    assert elapsed < 5
    assert (password_sms.status, password_sms.gateway) == (Delivery.SENT, "smsc")
    assert FallbackBackend.status_asked == 0 and sms_outbox == [], "the fallback never had this id"
    [message] = smsc.messages
    assert logs_in(sms_password(type("Sms", (), {"text": message["mes"]})))


def test_a_local_fallback_counts_as_local_for_the_deploy_check(settings):
    settings.SMS_BACKEND = "smsc,file"
    assert "helpdesk.W001" in [found.id for found in checks.notifications_leave_the_host(None)]
