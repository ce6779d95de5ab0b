"""Real parts for the integration tests: PostgreSQL, Redis, a `celery worker` process, SMTP and SMSC
servers on loopback, and the helpers to break and mend them."""

import email
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import kombu.exceptions
import pytest
import redis.exceptions
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from accounts.models import User
from fisoko_portal import settings as production
from fisoko_portal.celery import app
from helpdesk.models import Ticket
from tests.conftest import PASSWORD, require_service
from tests.smsc_server import SmscServer

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD_IN_SMS = re.compile(r"новый пароль: (\S+?)\.? ")

# How this machine (and CI) runs its Redis: no persistence, so a restart loses every queued message.
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_START = shlex.split(
    f'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {REDIS_PORT} --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=120, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class Mailbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"

    def wait_for(self, count, timeout=60):
        return wait_until(lambda: len(self.messages) >= count, timeout, 0.1)


class SmtpServer:
    """An SMTP server on one fixed loopback port that can be stopped and started again."""

    def __init__(self, mailbox):
        self.mailbox, self.port, self._controller = mailbox, free_port(), None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def text_of(message):
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(
        p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
        for p in parts
        if p.get_content_maintype() == "text"
    )


def passwords_by_phone(smsc):
    """Every password the gateway delivered, by phone number, in the order they went out."""
    passwords = {}
    for message in smsc.messages:
        password = PASSWORD_IN_SMS.search(message["mes"] + " ").group(1)
        passwords.setdefault(message["phones"], []).append(password)
    return passwords


def assert_one_working_password_each(smsc, tickets):
    """Each account got at least one SMS, and exactly one of the passwords it got opens it."""
    passwords = passwords_by_phone(smsc)
    for ticket in tickets:
        account = User.objects.get(username=ticket.login)
        sent = passwords.get(ticket.phone, [])
        assert sent, f"{ticket.login} got no SMS"
        working = sum(account.check_password(p) for p in sent)
        assert working == 1, f"{ticket.login}: {len(sent)} SMS, {working} working passwords"


class Worker:
    def __init__(self, env, log_path):
        self.env, self.log_path, self.process = env, log_path, None
        self.name = f"it-{uuid.uuid4().hex[:8]}@localhost"

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fisoko_portal",
                "worker",
                "-B",
                "--concurrency=2",
                "--loglevel=INFO",
                "-n",
                self.name,
                "-s",
                str(self.log_path.with_suffix(".beat")),
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_tail()
            if self.answers():
                return
        pytest.fail("the Celery worker did not answer within 60 s:\n" + self.log_tail())

    def answers(self):
        """Whether the worker answers a ping through the broker.

        After a Redis restart this process's pooled broker connection is dead; the failed ping drops
        it, and the next one connects afresh.
        """
        try:
            return bool(app.control.ping(destination=[self.name], timeout=0.5))
        except (redis.exceptions.ConnectionError, kombu.exceptions.OperationalError, OSError):
            time.sleep(0.5)
            return False

    def reconnects(self, timeout=60):
        """Wait until the worker answers again after a broker outage; fail if it died meanwhile."""
        wait_until(lambda: self.process.poll() is not None or self.answers(), timeout)
        assert self.process.poll() is None, (
            f"the worker exited (code {self.process.returncode}) instead of reconnecting:\n" + self.log_tail()
        )
        assert self.answers(), f"the worker did not reconnect within {timeout} s:\n" + self.log_tail()

    def log_tail(self, chars=3000):
        return self.log_path.read_text()[-chars:]

    def kill(self):
        """SIGKILL the worker and its pool processes, as a crashed host would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class RealParts:
    worker: Worker
    mailbox: Mailbox
    smtp: SmtpServer
    smsc: SmscServer


@pytest.fixture
def real_parts(settings, tmp_path, reference_data):
    require_service(connection.vendor == "postgresql", "PostgreSQL is not configured (DATABASE_URL)")
    require_service(bool(settings.REDIS_URL), "Redis is not configured (REDIS_URL)")
    # The worker hashes with the production Argon2id; the test must be able to check those hashes.
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    settings.MEDIA_ROOT = tmp_path / "media"
    # The request counts live in the shared Redis and outlast a run; these tests are not about them.
    settings.HELPDESK_APPLY_RATE = settings.HELPDESK_APPLY_POST_RATE = (10_000, 3600)
    app.conf.CELERY_TASK_ALWAYS_EAGER = False  # the namespaced key: see tests/conftest.py
    app.control.purge()

    mailbox = Mailbox()
    smtp = SmtpServer(mailbox)
    smtp.start()
    smsc = SmscServer()
    smsc.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fisoko_portal.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": smtp.url,
        "SMS_BACKEND": "smsc",
        "SMSC_URL": smsc.url,
        "SMSC_LOGIN": smsc.login,
        "SMSC_PASSWORD": smsc.password,
        "OUTBOX_SWEEP_SECONDS": "2",
        "OUTBOX_SWEEP_GRACE": "3",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    worker = Worker(env, tmp_path / "worker.log")
    yield RealParts(worker, mailbox, smtp, smsc)
    worker.stop()
    smsc.stop()
    smtp.stop()
    app.control.purge()


class LocalRedis:
    """The machine's own Redis, stopped and started the way this machine runs it, or frozen."""

    def __init__(self):
        self.frozen_pid = None

    def ping(self):
        try:
            with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        subprocess.run(
            ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "shutdown", "nosave"],
            capture_output=True,
            timeout=10,
        )
        assert wait_until(lambda: not self.ping(), 10), "Redis did not stop"

    def freeze(self):
        """SIGSTOP the server: connections open, nothing answers, as on an overloaded or stuck host."""
        info = subprocess.run(
            ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "info", "server"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        self.frozen_pid = int(re.search(r"^process_id:(\d+)", info, re.M).group(1))
        os.kill(self.frozen_pid, signal.SIGSTOP)

    def thaw(self):
        if self.frozen_pid is not None:
            os.kill(self.frozen_pid, signal.SIGCONT)
            self.frozen_pid = None

    def start(self):
        self.thaw()
        if self.ping():
            return
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            REDIS_START,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            timeout=10,
            check=True,
        )
        assert wait_until(self.ping, 15), "Redis did not answer PING within 15 s of its start"


@pytest.fixture
def local_redis(real_parts, settings):
    """The local Redis, for tests that stop or freeze it; it is always running when the test ends.

    It depends on ``real_parts`` so that Redis is back before the worker is stopped and the queue purged.
    """
    url = urlsplit(settings.REDIS_URL)
    require_service(
        (url.hostname, url.port or 6379) == (REDIS_HOST, REDIS_PORT),
        f"this test restarts the local Redis, and REDIS_URL is not {REDIS_HOST}:{REDIS_PORT}",
    )
    require_service(
        shutil.which("redis-server") and shutil.which("redis-cli"),
        "redis-server and redis-cli are needed to restart the local Redis",
    )
    redis = LocalRedis()
    try:
        yield redis
    finally:
        redis.start()


def make_operator():
    operator = User.objects.create_user("operator", password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    client = Client()
    client.force_login(operator)
    return operator, client


def make_tickets(count):
    """``count`` requests for new passwords, each for its own existing school account."""
    tickets = []
    for n in range(count):
        login = f"sch77{n:04d}"
        User.objects.create_user(login, password=f"old-{login}")
        tickets.append(
            Ticket.objects.create(
                organization_name=f"Школа № {n}",
                information_system="fis_oko",
                region_id="77",
                phone=f"+7912000{n:04d}",
                email=f"school{n}@example.ru",
                organization_type="school",
                login=login,
                role="school",
                person_name="Иванова",
                reason="lost",
                description="Замена пароля",
            )
        )
    return tickets
