"""Email in against a real Dovecot on loopback (issue 16, item 4); never a mock of imaplib."""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.db import connection

from helpdesk import mailbox, services, tasks
from helpdesk.models import Attachment, Status, Ticket, TicketEvent, TicketKind, TicketMessage
from tests.conftest import require_service
from tests.helpdesk.conftest import TICKET_DATA, pdf
from tests.imap_server import Dovecot, available

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
SENDER = "director@school1234.ru"
STRANGER = "someone@example.org"


@pytest.fixture(scope="module")
def dovecot_server():
    require_service(available(), "dovecot is not installed (apt-get install dovecot-imapd)")
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(dovecot_server, settings, tmp_path):
    """The server with an empty INBOX, and the portal reading it."""
    with dovecot_server.connect() as imap:
        imap.uid("STORE", "1:*", "+FLAGS", r"(\Deleted)")
        imap.expunge()
    settings.IMAP_URL = dovecot_server.url
    settings.IMAP_TIMEOUT = 5
    settings.MEDIA_ROOT = tmp_path / "media"
    return dovecot_server


def letter(
    subject="Не могу войти", sender=SENDER, body="Здравствуйте! Помогите.", files=(), headers=None, n=1
):
    message = EmailMessage()
    message["From"] = f"Иванова Мария <{sender}>"
    message["To"] = "helpfisoko@fioco.ru"
    message["Subject"] = subject
    message["Message-ID"] = f"<letter-{n}-{time.monotonic_ns()}@example.org>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def pdf_bytes():
    return pdf().read()


def events(ticket):
    comments = TicketEvent.objects.filter(ticket=ticket).values_list("comment", flat=True)
    return " ".join(comments).replace("\xa0", " ")


@pytest.fixture
def filed(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_submit(data=TICKET_DATA, files=[(pdf(), "scan.pdf", "application/pdf")])
    mailoutbox.clear()
    return ticket


def poll(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return mailbox.poll()


def test_off_by_default(settings):
    settings.IMAP_URL = ""
    assert mailbox.poll() is None


def test_a_worker_that_starts_reads_the_mailbox_at_once(
    dovecot, settings, django_capture_on_commit_callbacks
):
    """A restart after a crash must not wait for the next beat: the dead worker's poll is lost for an
    hour (Redis' visibility timeout)."""
    from helpdesk.tasks import poll_mailbox_at_start

    dovecot.deliver(letter())
    settings.IMAP_URL = ""
    poll_mailbox_at_start(sender=None)  # off: nothing is read
    assert not Ticket.objects.exists()

    settings.IMAP_URL = dovecot.url
    with django_capture_on_commit_callbacks(execute=True):
        poll_mailbox_at_start(sender=None)
    assert Ticket.objects.get().kind == TicketKind.QUESTION


def test_a_letter_becomes_a_question_with_its_scan_and_a_confirmation(
    dovecot, django_capture_on_commit_callbacks, mailoutbox
):
    dovecot.deliver(letter(files=[("скан.pdf", pdf_bytes(), "application", "pdf")]))

    assert poll(django_capture_on_commit_callbacks) == 1

    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.status, ticket.email) == (TicketKind.QUESTION, Status.NEW, SENDER)
    assert ticket.person_name == "Иванова Мария" and "Помогите" in ticket.description
    [message] = TicketMessage.objects.filter(ticket=ticket)
    assert (message.direction, message.sender, message.subject) == ("in", SENDER, "Не могу войти")
    [attachment] = Attachment.objects.filter(ticket=ticket)
    assert (attachment.original_name, attachment.content_type, attachment.message) == (
        "скан.pdf",
        "application/pdf",
        message,
    )
    [confirmation] = mailoutbox
    assert confirmation.to == [SENDER] and ticket.number in confirmation.subject
    assert "получено как вопрос" in confirmation.body and "SMS" not in confirmation.body
    assert dovecot.flagged(mailbox.TAKEN) == (1, 0)


def test_a_question_gets_no_password(dovecot, django_capture_on_commit_callbacks, operator, school):
    dovecot.deliver(letter(subject="sch771234 пароль"))
    poll(django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    with pytest.raises(
        services.ServiceError, match="вопрос, полученный по e-mail.*пароль по ней не выдаётся"
    ):
        services.password_issue(ticket=ticket, by=operator)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and not ticket.notifications.filter(kind="password").exists()


def test_a_reply_from_the_requesters_address_joins_the_request(
    dovecot, filed, django_capture_on_commit_callbacks, mailoutbox
):
    subject = f"Re: Заявка № {filed.number.lower().replace('-', ' ')} зарегистрирована"
    dovecot.deliver(letter(subject=subject, files=[("печать.pdf", pdf_bytes(), "application", "pdf")]))

    poll(django_capture_on_commit_callbacks)

    assert Ticket.objects.count() == 1
    [message] = TicketMessage.objects.filter(ticket=filed)
    assert message.body.startswith("Здравствуйте")
    assert [a.original_name for a in filed.attachments.all()] == ["scan.pdf", "печать.pdf"]
    assert "Ответ заявителя по e-mail" in events(filed)
    assert mailoutbox == [], "a reply is not confirmed"


def test_an_emailed_answer_to_a_clarification_puts_the_request_back_in_the_queue(
    dovecot, filed, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_clarify(ticket=filed, by=operator, text="Пришлите скан с печатью.")
    filed.refresh_from_db()
    assert filed.status == Status.WAITING
    dovecot.deliver(
        letter(
            subject=f"Re: Заявка № {filed.number}", files=[("печать.pdf", pdf_bytes(), "application", "pdf")]
        )
    )

    poll(django_capture_on_commit_callbacks)

    filed.refresh_from_db()
    assert filed.status != Status.WAITING and filed.is_open and filed.answered
    assert "Ответ заявителя по e-mail" in events(filed)


def test_with_a_trusted_mail_server_a_forged_from_does_not_join_the_request(
    dovecot, filed, settings, django_capture_on_commit_callbacks
):
    settings.IMAP_TRUSTED_AUTHSERV = "mx.fioco.ru"
    forged = {"Authentication-Results": "mx.fioco.ru; spf=fail smtp.mailfrom=example.org; dmarc=fail"}
    # A header the sender wrote itself names another server, or none of ours: it proves nothing.
    self_made = {"Authentication-Results": "mx.evil.example; dmarc=pass header.from=school1234.ru"}
    genuine = {"Authentication-Results": "mx.fioco.ru; dkim=pass; dmarc=pass header.from=school1234.ru"}
    subject = f"Re: Заявка № {filed.number}"
    dovecot.deliver(
        letter(subject=subject, headers=forged, n=1), letter(subject=subject, headers=self_made, n=2)
    )
    poll(django_capture_on_commit_callbacks)
    assert not TicketMessage.objects.filter(ticket=filed).exists()
    for question in Ticket.objects.exclude(pk=filed.pk):
        assert question.kind == TicketKind.QUESTION
        assert "не подтвердил адрес отправителя (DMARC)" in events(question)

    dovecot.deliver(letter(subject=subject, headers=genuine, n=3))
    poll(django_capture_on_commit_callbacks)
    assert TicketMessage.objects.filter(ticket=filed).count() == 1


@pytest.mark.parametrize(
    ("sender", "number", "note"),
    [
        (STRANGER, None, "но письмо пришло не с её адреса"),
        (SENDER, "ZZZZ-ZZZZ", "№ ZZZZ-ZZZZ, такой заявки нет"),
    ],
)
def test_a_number_that_is_not_the_senders_request_makes_a_new_request_with_a_note(
    dovecot, filed, django_capture_on_commit_callbacks, sender, number, note
):
    dovecot.deliver(letter(subject=f"Заявка № {number or filed.number}", sender=sender))
    poll(django_capture_on_commit_callbacks)
    new = Ticket.objects.exclude(pk=filed.pk).get()
    assert new.kind == TicketKind.QUESTION and new.email == sender
    assert note in events(new)
    assert not TicketMessage.objects.filter(ticket=filed).exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
    ],
)
def test_an_auto_responder_is_never_answered(
    dovecot, django_capture_on_commit_callbacks, mailoutbox, headers
):
    dovecot.deliver(letter(subject="Автоответ: Не могу войти", headers=headers))
    assert poll(django_capture_on_commit_callbacks) == 1
    assert Ticket.objects.count() == 1
    assert mailoutbox == []


def test_auto_submitted_no_is_a_person(dovecot, django_capture_on_commit_callbacks, mailoutbox):
    dovecot.deliver(letter(headers={"Auto-Submitted": "no"}))
    poll(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1


def test_a_refused_attachment_is_noted_on_the_request_not_dropped(
    dovecot, django_capture_on_commit_callbacks
):
    exe = b"MZ\x90\x00\x03" + b"\x00" * 200
    dovecot.deliver(
        letter(
            files=[
                ("скан.pdf", pdf_bytes(), "application", "pdf"),
                ("счёт.pdf", exe, "application", "pdf"),
            ]
        )
    )
    poll(django_capture_on_commit_callbacks)
    ticket = Ticket.objects.get()
    assert [a.original_name for a in ticket.attachments.all()] == ["скан.pdf"]
    assert "Вложение не принято: Файл «счёт.pdf»: содержимое не соответствует расширению .pdf." in events(
        ticket
    )


def test_a_30_mb_letter_over_the_limit_is_noted_and_stays_in_the_mailbox(
    dovecot, settings, django_capture_on_commit_callbacks
):
    settings.IMAP_MAX_LETTER_BYTES = 10 * 1024 * 1024
    big = b"%PDF-1.4\n" + os.urandom(30 * 1024 * 1024)
    dovecot.deliver(letter(subject="Сканы", files=[("большой.pdf", big, "application", "pdf")]))
    assert poll(django_capture_on_commit_callbacks) == 1
    ticket = Ticket.objects.get()
    assert not ticket.attachments.exists()
    assert "Письмо размером 41,1 МБ не загружено (предел 10,0 МБ): оно осталось в ящике поддержки" in events(
        ticket
    )
    assert "ошибками (MIME)" not in events(ticket)
    with dovecot.connect() as imap:
        _, data = imap.uid("SEARCH", None, "ALL")
    assert len(data[0].split()) == 1, "the letter itself is kept"


def test_malformed_mime_is_taken_with_a_note(dovecot, django_capture_on_commit_callbacks):
    broken = (
        b"From: " + SENDER.encode() + b"\r\nSubject: =?utf-8?B?!!!?=\r\nMessage-ID: <broken@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"%%%not base64%%%\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\n"
        b"Content-Disposition: attachment; filename=x.pdf\r\n\r\n"
    )  # no closing boundary
    dovecot.deliver(broken)
    assert poll(django_capture_on_commit_callbacks) == 1
    ticket = Ticket.objects.get()
    assert "Письмо составлено с ошибками (MIME)" in events(ticket)
    assert TicketMessage.objects.get().message_id == "<broken@x>"


def test_each_letter_is_taken_once_however_often_the_mailbox_is_read(
    dovecot, django_capture_on_commit_callbacks
):
    dovecot.deliver(*[letter(n=n) for n in range(3)])
    assert poll(django_capture_on_commit_callbacks) == 3
    assert poll(django_capture_on_commit_callbacks) == 0
    assert Ticket.objects.count() == TicketMessage.objects.count() == 3


def test_a_letter_committed_but_not_flagged_is_flagged_on_the_next_read_not_doubled(
    dovecot, django_capture_on_commit_callbacks
):
    raw = letter()
    dovecot.deliver(raw)
    # The poller that took it was killed between its commit and the flag.
    mailbox.letter_take(raw=raw)
    assert dovecot.flagged(mailbox.TAKEN) == (0, 1)

    assert poll(django_capture_on_commit_callbacks) == 1
    assert Ticket.objects.count() == 1
    assert dovecot.flagged(mailbox.TAKEN) == (1, 0)


def test_the_same_letter_without_a_message_id_is_known_by_its_bytes(db):
    raw = b"From: " + SENDER.encode() + b"\r\nSubject: test\r\n\r\nbody\r\n"
    assert mailbox.letter_take(raw=raw) is not None
    assert mailbox.letter_take(raw=raw) is None
    assert Ticket.objects.count() == 1


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_imap_server_down_is_a_logged_skip(settings, caplog):
    settings.IMAP_URL = f"imap://u:p@127.0.0.1:{closed_port()}/INBOX"
    with caplog.at_level(logging.WARNING, logger="helpdesk.mailbox"):
        assert mailbox.poll() == 0
    assert "not read (ConnectionRefusedError" in caplog.text
    assert not Ticket.objects.exists()


def test_imap_server_that_never_answers_times_out_as_a_logged_skip(settings, caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True)
    thread.start()
    settings.IMAP_URL = f"imap://u:p@127.0.0.1:{silent.getsockname()[1]}/INBOX"
    settings.IMAP_TIMEOUT = 1
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="helpdesk.mailbox"):
        assert mailbox.poll() == 0
    assert time.monotonic() - started < 5
    assert "not read (TimeoutError" in caplog.text
    silent.close()


def test_a_wrong_mailbox_password_is_a_logged_skip(dovecot, settings, caplog):
    dovecot.deliver(letter())
    settings.IMAP_URL = dovecot.url.replace("mailbox-secret", "wrong")
    with caplog.at_level(logging.WARNING, logger="helpdesk.mailbox"):
        assert mailbox.poll() == 0
    assert "not read" in caplog.text
    assert dovecot.flagged(mailbox.TAKEN) == (0, 1)


# A reader killed halfway


@pytest.mark.django_db(transaction=True)
def test_a_reader_killed_with_sigkill_halfway_and_rerun_loses_and_doubles_nothing(
    reference_data, dovecot, settings, tmp_path
):
    require_service(connection.vendor == "postgresql", "a second process needs PostgreSQL (DATABASE_URL)")
    total = 120
    dovecot.deliver(
        *[letter(n=n, files=[("скан.pdf", pdf_bytes(), "application", "pdf")]) for n in range(total)]
    )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fisoko_portal.settings",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "IMAP_URL": dovecot.url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EMAIL_URL": "",
        "SMS_BACKEND": "locmem",
    }
    env.pop("REDIS_URL", None)  # tasks run eagerly in the reader: the confirmations go to files
    env["EMAIL_FILE_PATH"] = str(tmp_path / "mail")
    command = [sys.executable, "manage.py", "poll_mailbox"]

    reader = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while TicketMessage.objects.count() < total // 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.send_signal(signal.SIGKILL)
    reader.wait()
    taken_before = TicketMessage.objects.count()
    assert 0 < taken_before < total, "the reader was not killed halfway"

    rerun = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    assert TicketMessage.objects.count() == Ticket.objects.count() == total
    assert Attachment.objects.count() == total
    assert dovecot.flagged(mailbox.TAKEN) == (total, 0)


def test_a_backlog_larger_than_a_batch_is_taken_at_once_not_a_beat_later(
    dovecot, settings, django_capture_on_commit_callbacks
):
    settings.IMAP_BATCH = 2
    dovecot.deliver(*[letter(n=n) for n in range(5)])
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.poll_mailbox() == 2  # its own batch; the next ones were queued (run eagerly here)
    assert TicketMessage.objects.count() == 5
    assert dovecot.flagged(mailbox.TAKEN) == (5, 0)
