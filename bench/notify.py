"""Notifications: a real Celery worker (concurrency 2) delivering to loopback SMTP and SMSC servers.

The workload is the life of a password-replacement request: filed (the confirmation email), then
closed with «Выдать новый пароль» (an SMS whose password the worker makes and hashes with Argon2id,
and the email saying it is done). Three notifications a request, one of them an SMS, each queued at
the commit that causes it; the time from that commit to the server receiving it is measured.
"""

import subprocess
import sys
import time
import uuid
from collections import defaultdict

from aiosmtpd.controller import Controller
from django.db import transaction

from accounts.models import User
from demo.management.commands.seed_scale import OPERATOR
from fisoko_portal.celery import app
from helpdesk import services
from helpdesk.models import Ticket
from tests.smsc_server import SmscServer

from .lib import BASE_DIR, HOST, Figure, Target, cpu_seconds, free_port, percentile

PACED_RATES = [100, 40]  # notifications per second offered in the latency runs: the target, and less
PACED_SECONDS = 10
BURST = 300  # requests filed and closed in one transaction: 900 notifications at once
SPARED = ["77", "50"]  # the login storm's regions: the passwords of the other regions' schools change here


class Mailbox:
    """aiosmtpd handler that notes when each message arrived, by recipient."""

    def __init__(self):
        self.arrived = defaultdict(list)

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        for recipient in envelope.rcpt_tos:
            self.arrived[recipient].append(now)
        return "250 OK"


class TimedSmsc(SmscServer):
    """tests/smsc_server.py, noting when each SMS was accepted, by phone."""

    def __init__(self):
        super().__init__()
        self.arrived = defaultdict(list)

    def _answer(self, fields):
        answer = super()._answer(fields)
        if "id" in answer:
            self.arrived[fields["phones"]].append(time.time())
        return answer


def request_data(n, login, tag):
    return {
        "organization_name": "ГБОУ «Школа»",
        "information_system": "fis_oko",
        "region_id": login[3:5],
        "phone": f"+7999{n:07d}",
        "email": f"{tag}-{n}@example.ru",
        "organization_type": "school",
        "login": login,
        "person_name": "Иванова Мария Петровна",
        "head_name": "",
        "reason": "lost",
        "description": "Замена пароля",
    }


def file_and_close(n, login, tag, operator, close=True):
    """A request filed and, with ``close``, its new password issued: 3 notifications, or 1."""
    ticket = services.ticket_submit(data=request_data(n, login, tag), files=[])
    if close:
        services.password_issue(ticket=ticket, by=operator)
    return ticket


class Arrivals:
    """What the SMTP and SMSC servers received for a set of requests, and when."""

    def __init__(self, mailbox, smsc, tickets, emails, sms):
        self.mailbox, self.smsc, self.tickets, self.emails, self.sms = mailbox, smsc, tickets, emails, sms

    def times(self, ticket):
        return self.mailbox.arrived.get(ticket.email, []) + self.smsc.arrived.get(ticket.phone, [])

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while not all(
            len(self.mailbox.arrived.get(t.email, [])) >= self.emails
            and len(self.smsc.arrived.get(t.phone, [])) >= self.sms
            for t in self.tickets
        ):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def count(self):
        return len(self.tickets) * (self.emails + self.sms)

    def last(self):
        return max(max(self.times(t)) for t in self.tickets)


def notifications(env, runs):
    operator = User.objects.get(username=OPERATOR)
    paced_requests = max(PACED_RATES) * PACED_SECONDS // 3
    accounts = list(
        User.objects.filter(role="school")
        .exclude(region_id__in=SPARED)
        .order_by("pk")
        .values_list("username", flat=True)[: max(paced_requests, BURST)]
    )
    first_new = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    mailbox, smsc = Mailbox(), TimedSmsc()
    smtp = Controller(mailbox, hostname=HOST, port=free_port())
    smtp.start()
    smsc.start()
    app.control.purge()  # requests filed by other figures queued mail that no worker took
    worker_env = {
        **env,
        "EMAIL_URL": f"smtp://{HOST}:{smtp.port}",
        "SMS_BACKEND": "smsc",
        "SMSC_URL": smsc.url,
        "SMSC_LOGIN": smsc.login,
        "SMSC_PASSWORD": smsc.password,
    }
    name = f"bench-{uuid.uuid4().hex[:6]}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fisoko_portal", "worker", "--concurrency=2", "-n", name,
         "--loglevel=ERROR", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=worker_env,
    )  # fmt: skip
    life_rate = Figure("burst", unit="notifications/s", digits=0)
    life_cpu, email_cpu = Figure("cpu", unit="ms", digits=1), Figure("cpu", unit="ms", digits=1)
    email_rate = Figure("emails only", unit="notifications/s", digits=0)
    paced = {
        rate: {
            "p95": Figure("p95", unit="s", digits=3),
            "p50": Figure("p50", unit="s", digits=3),
            "rate": Figure("delivered", unit="notifications/s", digits=0),
        }
        for rate in PACED_RATES
    }
    lost = 0
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            assert worker.poll() is None and time.monotonic() < deadline, "the Celery worker did not start"
        for run in range(runs):
            # Capacity: BURST requests filed and closed in one transaction, all queued at its commit.
            for close, figure, cpu, tag in [
                (True, life_rate, life_cpu, f"life{run}"),
                (False, email_rate, email_cpu, f"mail{run}"),
            ]:
                mailbox.arrived.clear(), smsc.arrived.clear()  # phones repeat from one phase to the next
                with transaction.atomic():
                    tickets = [
                        file_and_close(n, a, tag, operator, close) for n, a in enumerate(accounts[:BURST])
                    ]
                    cpu_before = cpu_seconds(worker.pid)
                committed = time.time()
                arrivals = Arrivals(mailbox, smsc, tickets, 2 if close else 1, 1 if close else 0)
                lost += not arrivals.wait()
                figure.values.append(arrivals.count() / (arrivals.last() - committed))
                cpu.values.append((cpu_seconds(worker.pid) - cpu_before) * 1000 / arrivals.count())
                Ticket.objects.filter(pk__gte=first_new).delete()
            # Latency: a rate offered, one request's life at a time: the target's, and one within reach.
            for rate, figures in paced.items():
                committed, tickets = {}, []
                mailbox.arrived.clear(), smsc.arrived.clear()
                started = time.monotonic()
                for n, account in enumerate(accounts[: rate * PACED_SECONDS // 3]):
                    time.sleep(max(0.0, started + n * 3 / rate - time.monotonic()))
                    with transaction.atomic():
                        # Registered first, so it runs first at the commit, before the tasks are queued.
                        transaction.on_commit(lambda n=n, c=committed: c.__setitem__(n, time.time()))
                        tickets.append(file_and_close(n, account, f"paced{rate}-{run}", operator))
                arrivals = Arrivals(mailbox, smsc, tickets, 2, 1)
                lost += not arrivals.wait()
                found = [t - committed[n] for n, ticket in enumerate(tickets) for t in arrivals.times(ticket)]
                figures["p95"].values.append(percentile(found, 0.95))
                figures["p50"].values.append(percentile(found, 0.5))
                figures["rate"].values.append(len(found) / (arrivals.last() - min(committed.values())))
                Ticket.objects.filter(pk__gte=first_new).delete()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        smsc.stop()
        smtp.stop()
        app.control.purge()
    lines = [
        "`celery worker --concurrency=2` (prefork), Redis broker, PostgreSQL; aiosmtpd and the SMSC-speaking "
        f"server of `tests/smsc_server.py` on loopback in the bench process. A request's life is 3 "
        f"notifications: the confirmation email, the SMS with a new password (made and hashed with Argon2id "
        f"in the worker) and the email saying it is done. {runs} runs of:",
        "",
        f"- burst: {BURST} requests filed and closed in one transaction, {3 * BURST} notifications queued at "
        f"its commit: {life_rate.text()}, commit to the last one received; the worker's processes used "
        f"{life_cpu.text()} of CPU per notification",
        f"- the same with the confirmation emails only ({BURST} emails): {email_rate.text()}; worker CPU "
        f"{email_cpu.text()} per email",
        *(
            f"- paced: {rate} notifications/s offered for {PACED_SECONDS} s (a request filed, closed every "
            f"{3000 // rate} ms): delivered {f['rate'].text()}; commit → gateway p50 {f['p50'].text()}, "
            f"p95 {f['p95'].text()}"
            for rate, f in paced.items()
        ),
        f"- runs with a notification not received within 120 s: {lost}",
    ]
    targets = [
        Target(
            "Notifications: delivery rate, worker concurrency 2",
            "≥ 100/s",
            life_rate,
            life_rate.median >= 100,
        ),
        Target(
            f"Notifications: commit → gateway p95, {PACED_RATES[0]}/s offered",
            "< 1 s",
            paced[PACED_RATES[0]]["p95"],
            paced[PACED_RATES[0]]["p95"].median < 1,
        ),
    ]
    return lines, targets, lost == 0
