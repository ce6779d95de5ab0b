"""One fault each, with the real parts: PostgreSQL, Redis, a Celery worker with beat, an SMTP server and
the SMSC gateway on loopback.

Each test breaks one part while notifications are due, checks that the web keeps answering and that
nothing is lost meanwhile, mends the part, then checks that every notification went out, none twice
with different passwords: each account has exactly one working password among the SMS it got.
"""

import threading
import time

import pytest
from django.db import connections
from django.test import Client

from accounts.models import User
from helpdesk import services
from helpdesk.models import Channel, Delivery, Notification, Status, Ticket
from tests.helpdesk.conftest import pdf
from tests.integration.conftest import (
    assert_one_working_password_each,
    make_operator,
    make_tickets,
    passwords_by_phone,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

# The worker's first retry waits 30 s (outbox.backoff), so each fault below lasts one attempt.
DELIVERY_TIMEOUT = 90
# Long enough for the worker to fail a few reconnects and beat a few sweeps.
REDIS_OUTAGE = 6
# What "the page keeps answering" means for a request that has to queue a task.
ANSWER_WITHIN = 5


class Timed(threading.Thread):
    """A request run aside, so that the test can go on (and end the fault) while it hangs."""

    def __init__(self, request):
        super().__init__(daemon=True)
        self.request, self.response, self.error, self.seconds = request, None, None, None

    def run(self):
        started = time.monotonic()
        try:
            self.response = self.request()
        except Exception as error:
            self.error = error
        finally:
            self.seconds = time.monotonic() - started
            connections.close_all()

    def outcome(self):
        if self.seconds is None:
            return "still waiting"
        status = self.response.status_code if self.response is not None else repr(self.error)
        return f"{status} in {self.seconds:.2f} s"


def assert_public_pages_answer(client):
    for path in ["/login/", "/apply/"]:
        response = client.get(path)
        assert response.status_code == 200, f"GET {path} answered {response.status_code}"


def all_sent(rows):
    return lambda: not rows.exclude(status=Delivery.SENT).exists()


def not_sent_report(rows, worker):
    waiting = [
        f"{n.channel} {n.kind} {n.recipient}: {n.status}, {n.attempts} attempts, {n.last_error}"
        for n in rows.exclude(status=Delivery.SENT)
    ]
    return "not sent:\n" + "\n".join(waiting) + "\n\nworker log:\n" + worker.log_tail()


def assert_each_email_once(mailbox, rows):
    """One message per email row: none lost, none sent twice."""
    expected = sorted(rows.filter(channel=Channel.EMAIL).values_list("recipient", flat=True))
    assert mailbox.wait_for(len(expected), timeout=30)
    time.sleep(1)  # a duplicate would come right behind
    assert sorted(m["To"] for m in mailbox.messages) == expected
    assert len({(m["To"], m["Subject"]) for m in mailbox.messages}) == len(expected)


def report(capsys, text):
    with capsys.disabled():
        print(f"\n{text}")


def test_emails_wait_for_a_mail_server_that_is_down_and_all_arrive_once_it_is_back(
    real_parts, valid_data, capsys
):
    worker, mailbox, smtp, smsc = real_parts.worker, real_parts.mailbox, real_parts.smtp, real_parts.smsc
    smtp.stop()
    User.objects.create_user("sch771234", password="old-sch771234")
    tickets = make_tickets(2)
    _, staff = make_operator()
    worker.start()

    public = Client()
    response = public.post("/apply/", {**valid_data, "attachments": [pdf()]})
    assert response.status_code == 302
    tickets.append(Ticket.objects.get(login="sch771234"))
    for ticket in tickets:
        response = staff.post(f"/admin/helpdesk/ticket/{ticket.pk}/issue-password/")
        assert response.status_code == 302

    rows = Notification.objects.all()
    emails = rows.filter(channel=Channel.EMAIL)
    # The SMS do not wait for the mail; each one that goes out writes its «done» email.
    sms_rows = rows.filter(channel=Channel.SMS)
    assert wait_until(all_sent(sms_rows), 30), not_sent_report(sms_rows, worker)
    assert_one_working_password_each(smsc, tickets)
    assert emails.count() == 4  # one «received», three «done»
    assert wait_until(lambda: not emails.filter(attempts=0).exists(), 30), not_sent_report(rows, worker)
    time.sleep(5)  # longer than a sweep and its grace: the rows must still wait for their retry
    for row in emails:
        assert (row.status, row.attempts) == (Delivery.PENDING, 1), not_sent_report(rows, worker)
        assert "Connection refused" in row.last_error
    assert mailbox.messages == []
    # The web keeps answering, and staff see why the emails wait.
    assert_public_pages_answer(public)
    page = staff.get(f"/admin/helpdesk/ticket/{tickets[-1].pk}/change/")
    assert page.status_code == 200 and "Connection refused" in page.text

    smtp.start()
    back = time.monotonic()
    assert wait_until(all_sent(rows), DELIVERY_TIMEOUT), not_sent_report(rows, worker)
    delivered_after = time.monotonic() - back
    assert_each_email_once(mailbox, rows)
    assert_one_working_password_each(smsc, tickets)
    assert len(smsc.messages) == 3
    report(capsys, f"mail server back: all 4 emails delivered {delivered_after:.1f} s later")


def test_sms_wait_out_a_failing_and_late_gateway_and_each_account_gets_the_one_password_it_was_sent(
    real_parts, capsys
):
    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    worker.env["SMSC_TIMEOUT"] = "2"
    operator, staff = make_operator()
    tickets = make_tickets(6)
    rows = Notification.objects.all()
    sms_rows = rows.filter(channel=Channel.SMS)
    worker.start()
    started = time.monotonic()

    # A gateway whose answer comes after the worker gave up: one request it never got (dropped), the
    # other it took at once and answered too late. The worker cannot tell them apart; the status API can.
    smsc.hang_next(1, 4)
    smsc.answer_late_next(1, 4)
    for ticket in tickets[:2]:
        services.password_issue(ticket=ticket, by=operator)
    assert wait_until(lambda: sms_rows.filter(attempts=1).count() == 2, 30), not_sent_report(rows, worker)
    assert smsc.wait_for(1, timeout=10), "the late request was not taken"
    late_phone = smsc.messages[0]["phones"]
    for row in sms_rows.select_related("ticket"):
        assert row.status == Delivery.SENDING and "did not answer within 2.0 s" in row.last_error
        assert row.ticket.status == Status.SENDING
    # The password in the SMS that arrived is already the account's: committed before the call.
    late_login = next(t.login for t in tickets if t.phone == late_phone)
    late_password = passwords_by_phone(smsc)[late_phone][0]
    assert User.objects.get(username=late_login).check_password(late_password)

    # A gateway that refuses for a while: «too many requests» (error 9) is worth retrying.
    smsc.fail_next(3, 9)
    for ticket in tickets[2:]:
        services.password_issue(ticket=ticket, by=operator)
    assert wait_until(lambda: not sms_rows.filter(attempts=0).exists(), 30), not_sent_report(rows, worker)
    refused = sms_rows.filter(last_error__contains="SMSC error 9", status=Delivery.PENDING)
    assert refused.count() == 3
    # A refused SMS puts the previous password back.
    for row in refused.select_related("ticket"):
        login = row.ticket.login
        assert User.objects.get(username=login).check_password(f"old-{login}"), login
    assert_public_pages_answer(Client())
    assert staff.get(f"/admin/helpdesk/ticket/{tickets[2].pk}/change/").status_code == 200

    assert wait_until(all_sent(rows), DELIVERY_TIMEOUT), not_sent_report(rows, worker)
    took = time.monotonic() - started
    assert_one_working_password_each(smsc, tickets)
    assert_each_email_once(mailbox, rows)
    # Each account got exactly one SMS, and its password works: the late one was found taken (no
    # second password), the dropped one found missing and sent anew.
    sent = passwords_by_phone(smsc)
    assert sorted(sent) == sorted(t.phone for t in tickets)
    assert all(len(passwords) == 1 for passwords in sent.values()), f"a stale password went out: {sent}"
    assert sent[late_phone] == [late_password]
    assert User.objects.get(username=late_login).check_password(late_password)
    assert all(t.status == Status.DONE for t in Ticket.objects.all())
    statuses = [r for r in smsc.requests if "mes" not in r]
    report(
        capsys,
        f"failing/late gateway: 6 SMS sent in {took:.1f} s, {len(smsc.requests)} requests answered "
        f"({len(statuses)} status checks), {len(smsc.messages)} SMS delivered, one per account",
    )


def test_public_pages_answer_while_redis_is_down_and_the_request_is_confirmed_after_its_restart(
    real_parts, local_redis, valid_data, capsys
):
    worker, mailbox = real_parts.worker, real_parts.mailbox
    worker.start()
    local_redis.stop()
    stopped = time.monotonic()

    public = Client(raise_request_exception=False)
    assert_public_pages_answer(public)
    started = time.monotonic()
    response = public.post("/apply/", {**valid_data, "attachments": [pdf()]})
    latency = time.monotonic() - started
    report(capsys, f"POST /apply/ with Redis down: {response.status_code} in {latency:.2f} s")
    assert response.status_code == 302, f"POST /apply/ answered {response.status_code}: {response.exc_info}"
    assert response.url == "/apply/done/"
    assert latency < ANSWER_WITHIN
    notification = Notification.objects.get(ticket=Ticket.objects.get())
    assert (notification.status, notification.attempts) == (Delivery.PENDING, 0)

    time.sleep(max(0, stopped + REDIS_OUTAGE - time.monotonic()))
    local_redis.start()
    restarted = time.monotonic()
    worker.reconnects()
    rows = Notification.objects.all()
    assert wait_until(all_sent(rows), 60), not_sent_report(rows, worker)
    sent_after = time.monotonic() - restarted
    # And a request filed now goes out as usual.
    response = public.post("/apply/", {**valid_data, "email": "deputy@school1234.ru", "attachments": [pdf()]})
    assert response.status_code == 302
    assert wait_until(all_sent(rows), 30), not_sent_report(rows, worker)
    assert_each_email_once(mailbox, rows)
    report(capsys, f"Redis back: the confirmation that waited was sent {sent_after:.1f} s later")


def test_worker_holding_a_retry_survives_a_redis_restart_and_the_sweep_sends_what_redis_forgot(
    real_parts, local_redis, capsys
):
    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    operator, staff = make_operator()
    tickets = make_tickets(3)
    rows = Notification.objects.all()
    worker.start()

    # The first SMS fails once: its retry waits in Redis, which forgets it when restarted.
    smsc.fail_next(1, 9)
    response = staff.post(f"/admin/helpdesk/ticket/{tickets[0].pk}/issue-password/")
    assert response.status_code == 302
    first_sms = rows.get(channel=Channel.SMS)
    assert wait_until(lambda: Notification.objects.get(pk=first_sms.pk).attempts == 1, 30)

    local_redis.stop()
    stopped = time.monotonic()
    assert_public_pages_answer(Client())
    started = time.monotonic()
    response = staff.post(f"/admin/helpdesk/ticket/{tickets[1].pk}/issue-password/")
    latency = time.monotonic() - started
    report(capsys, f"operator's «issue password» with Redis down: {response.status_code} in {latency:.2f} s")
    assert response.status_code == 302
    assert latency < ANSWER_WITHIN
    # Its SMS waits in the outbox; the «done» email is written once the SMS has gone.
    waiting = [(n.channel, n.status) for n in rows.filter(ticket=tickets[1])]
    assert waiting == [(Channel.SMS, Delivery.PENDING)]

    time.sleep(max(0, stopped + REDIS_OUTAGE - time.monotonic()))
    local_redis.start()
    down_for = time.monotonic() - stopped
    worker.reconnects()
    reconnected = time.monotonic() - stopped - down_for
    response = staff.post(f"/admin/helpdesk/ticket/{tickets[2].pk}/issue-password/")
    assert response.status_code == 302
    assert wait_until(all_sent(rows), DELIVERY_TIMEOUT), not_sent_report(rows, worker)
    assert_one_working_password_each(smsc, tickets)
    assert len(smsc.messages) == 3
    assert_each_email_once(mailbox, rows)
    report(
        capsys,
        f"Redis down {down_for:.1f} s; the worker answered {reconnected:.1f} s after its restart",
    )


def test_web_requests_do_not_hang_on_a_frozen_redis_and_what_they_queued_is_sent_after(
    real_parts, local_redis, valid_data, capsys
):
    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    operator, _ = make_operator()
    tickets = make_tickets(1)
    rows = Notification.objects.all()
    # The two requests run at once: a client that re-raised a view's exception could pick up the
    # other's (Django's test client listens for them on a global signal), so neither re-raises.
    public, staff = Client(raise_request_exception=False), Client(raise_request_exception=False)
    staff.force_login(operator)
    worker.start()

    # A frozen Redis (SIGSTOP: an overloaded or stuck host) accepts connections and never answers.
    local_redis.freeze()
    assert_public_pages_answer(public)
    apply = Timed(lambda: public.post("/apply/", {**valid_data, "attachments": [pdf()]}))
    issue = Timed(lambda: staff.post(f"/admin/helpdesk/ticket/{tickets[0].pk}/issue-password/"))
    for request in (apply, issue):
        request.start()
    for request in (apply, issue):
        request.join(2 * ANSWER_WITHIN)
    frozen = f"POST /apply/ {apply.outcome()}; operator's «issue password» {issue.outcome()}"
    local_redis.thaw()
    for request in (apply, issue):
        request.join(30)
    thawed = f"POST /apply/ {apply.outcome()}; «issue password» {issue.outcome()}"
    report(capsys, f"Redis frozen: {frozen}\nafter the thaw: {thawed}")

    assert wait_until(all_sent(rows), 60), not_sent_report(rows, worker)
    assert_one_working_password_each(smsc, tickets)
    for name, request in [("«issue password»", issue), ("POST /apply/", apply)]:
        answered = request.seconds is not None and request.seconds < ANSWER_WITHIN
        assert answered and request.response is not None and request.response.status_code == 302, (
            f"{name} with Redis frozen: {request.outcome()}"
        )
    assert_each_email_once(mailbox, rows)


def test_worker_killed_mid_batch_loses_nothing_and_issues_one_working_password(real_parts, capsys):
    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    operator, _ = make_operator()
    tickets = make_tickets(50)
    smsc.hang_next(50, 0.3)  # a slow gateway, so that the kill lands mid-send
    for ticket in tickets:
        services.password_issue(ticket=ticket, by=operator)

    worker.start()
    assert smsc.wait_for(8, timeout=60)
    worker.kill()
    delivered_before_kill = len(smsc.messages)
    assert delivered_before_kill < 50, "the batch finished before the kill: nothing was tested"

    worker.start()
    sms_rows = Notification.objects.filter(channel=Channel.SMS)
    assert wait_until(lambda: sms_rows.filter(status=Delivery.SENT).count() == 50, 180), not_sent_report(
        sms_rows, worker
    )
    assert_one_working_password_each(smsc, tickets)
    assert mailbox.wait_for(50, timeout=60)
    report(
        capsys,
        f"SIGKILL after {delivered_before_kill} of 50 SMS; {len(smsc.messages)} SMS delivered in all, "
        f"{len(smsc.requests)} gateway requests",
    )
