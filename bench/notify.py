"""Notifications: a real Celery worker (concurrency 2) delivering to loopback SMTP and SMSC servers.

Each request is closed with «Выдать новый пароль» (``services.password_issue``), which commits an
SMS (the worker makes the password and hashes it with Argon2id) and an email. The time from the
commit to the server receiving the message is measured per notification.
"""

import subprocess
import sys
import time
import uuid

from aiosmtpd.controller import Controller
from django.db import transaction

from accounts.models import User
from fisoko_portal.celery import app
from helpdesk import services
from helpdesk.management.commands.seed_scale import OPERATOR
from helpdesk.models import Ticket
from tests.smsc_server import SmscServer

from .lib import BASE_DIR, HOST, Figure, Target, free_port, percentile

PACED_RATE = 100  # notifications per second offered in the latency run
PACED_SECONDS = 10
BURST = 400  # requests closed in one transaction: 800 notifications at once
SPARED = ["77", "50"]  # the login storm's regions: the passwords of the other regions' schools change here


class Mailbox:
    """aiosmtpd handler that notes when each recipient's message arrived."""

    def __init__(self):
        self.arrived = {}

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        for recipient in envelope.rcpt_tos:
            self.arrived[recipient] = now
        return "250 OK"


class TimedSmsc(SmscServer):
    def __init__(self):
        super().__init__()
        self.arrived = {}

    def _answer(self, fields):
        answer = super()._answer(fields)
        if "id" in answer:
            self.arrived[fields["phones"]] = time.time()
        return answer


def open_tickets(accounts, tag):
    tickets = [
        Ticket(
            organization_name="ГБОУ «Школа»",
            information_system="fis_oko",
            region_id=login[3:5],
            phone=f"+7999{n:07d}",
            email=f"{tag}-{n}@example.ru",
            organization_type="school",
            login=login,
            role="school",
            person_name="Иванова Мария Петровна",
            reason="lost",
            description="Замена пароля",
        )
        for n, login in enumerate(accounts)
    ]
    return Ticket.objects.bulk_create(tickets)


def wait_for(mailbox, smsc, tickets, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(t.email in mailbox.arrived and t.phone in smsc.arrived for t in tickets):
            return True
        time.sleep(0.05)
    return False


def latencies(mailbox, smsc, tickets, committed):
    found = []
    for t in tickets:
        for arrived in (mailbox.arrived.get(t.email), smsc.arrived.get(t.phone)):
            if arrived is not None:
                found.append(arrived - committed[t.pk])
    return found


def notifications(env, runs):
    operator = User.objects.get(username=OPERATOR)
    paced_count = PACED_RATE * PACED_SECONDS // 2
    accounts = list(
        User.objects.filter(role="school")
        .exclude(region_id__in=SPARED)
        .order_by("pk")
        .values_list("username", flat=True)[: max(paced_count, BURST)]
    )
    assert len(accounts) >= max(paced_count, BURST), "seed_scale made too few school accounts"
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
         "--loglevel=WARNING", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=worker_env,
    )  # fmt: skip
    rate, p95, paced_rate = (
        Figure("burst", unit="notifications/s", digits=0),
        Figure("p95", unit="s", digits=3),
        Figure("paced", unit="notifications/s", digits=0),
    )
    p50, lost = Figure("p50", unit="s", digits=3), 0
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            assert worker.poll() is None and time.monotonic() < deadline, "the Celery worker did not start"
        for run in range(runs):
            # Capacity: BURST requests closed in one transaction, every notification queued at its commit.
            tickets = open_tickets(accounts[:BURST], f"burst{run}")
            with transaction.atomic():
                for ticket in tickets:
                    services.password_issue(ticket=ticket, by=operator)
            committed_at = time.time()
            lost += not wait_for(mailbox, smsc, tickets)
            last = max(max(mailbox.arrived[t.email], smsc.arrived[t.phone]) for t in tickets)
            rate.values.append(2 * len(tickets) / (last - committed_at))
            Ticket.objects.filter(pk__gte=first_new).delete()
            # Latency: PACED_RATE notifications a second offered, one request closed at a time.
            tickets = open_tickets(accounts[:paced_count], f"paced{run}")
            committed = {}
            started = time.monotonic()
            for n, ticket in enumerate(tickets):
                time.sleep(max(0.0, started + n * 2 / PACED_RATE - time.monotonic()))
                with transaction.atomic():
                    # Registered first, so it runs first at the commit, before the tasks are queued.
                    transaction.on_commit(lambda pk=ticket.pk, c=committed: c.__setitem__(pk, time.time()))
                    services.password_issue(ticket=ticket, by=operator)
            lost += not wait_for(mailbox, smsc, tickets)
            found = latencies(mailbox, smsc, tickets, committed)
            p95.values.append(percentile(found, 0.95))
            p50.values.append(percentile(found, 0.5))
            span = max(max(mailbox.arrived[t.email], smsc.arrived[t.phone]) for t in tickets) - min(
                committed.values()
            )
            paced_rate.values.append(len(found) / span)
            Ticket.objects.filter(pk__gte=first_new).delete()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        smsc.stop()
        smtp.stop()
        app.control.purge()
    lines = [
        "`celery worker --concurrency=2` (prefork), Redis broker, PostgreSQL; aiosmtpd and the SMSC-speaking "
        f"server of `tests/smsc_server.py` on loopback in the bench process. {runs} runs of:",
        "",
        f"- burst: {BURST} requests closed in one transaction ({2 * BURST} notifications, half SMS with a "
        f"new Argon2id password each): {rate.text()} from the commit to the last one received",
        f"- paced: {PACED_RATE} notifications/s offered for {PACED_SECONDS} s (one request closed every "
        f"{2000 // PACED_RATE} ms): delivered {paced_rate.text()}; commit → gateway p50 {p50.text()}, "
        f"p95 {p95.text()}",
        f"- runs with a notification not received within 120 s: {lost}",
    ]
    targets = [
        Target("Notifications: delivery rate, worker concurrency 2", "≥ 100/s", rate, rate.median >= 100),
        Target("Notifications: commit → gateway, p95 at 100/s", "< 1 s", p95, p95.median < 1),
    ]
    return lines, targets, lost == 0
