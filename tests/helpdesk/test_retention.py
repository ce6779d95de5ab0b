"""Personal data of requests closed long ago is removed; the record of the request stays."""

import logging
import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from helpdesk import retention, services
from helpdesk.models import AttachmentDownload, Delivery, Status, Ticket, TicketEvent
from helpdesk.retention import abandoned_purge, orphaned_files_sweep, personal_data_purge
from helpdesk.sms import locmem
from helpdesk.tasks import clear_expired_sessions, purge_personal_data
from tests.conftest import login_client
from tests.helpdesk.conftest import PDF, pdf

pytestmark = pytest.mark.django_db

PHONE = "+79123456789"
EMAIL = "director@school1234.ru"
DATA = {
    "organization_name": "ГБОУ «Школа № 1234»",
    "information_system": "fis_oko",
    "region_id": "77",
    "phone": PHONE,
    "email": EMAIL,
    "organization_type": "school",
    "login": "sch771234",
    "person_name": "Иванова Мария Петровна",
    "head_name": "Петров Пётр Петрович",
    "reason": "lost",
    "description": "Замена пароля, звонить Марии Петровне",
}
REJECTION = "Письмо подписано не руководителем, а Ивановой М. П."
NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def operator(operator):
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    return operator


@pytest.fixture
def file_ticket(django_capture_on_commit_callbacks):
    def file():
        with django_capture_on_commit_callbacks(execute=True):
            return services.ticket_submit(
                data=DATA,
                files=[(pdf(), "Иванова письмо.pdf", "application/pdf"), (pdf(), "2.pdf", "application/pdf")],
            )

    return file


@pytest.fixture
def closed_ticket(file_ticket, operator, school, django_capture_on_commit_callbacks):
    """File a request, close it, and date its closing ``days`` days before NOW."""

    def close(days, status=Status.DONE):
        ticket = file_ticket()
        with django_capture_on_commit_callbacks(execute=True):
            if status == Status.DONE:
                services.password_issue(ticket=ticket, by=operator)
            else:
                services.ticket_reject(ticket=ticket, by=operator, reason=REJECTION)
        TicketEvent.objects.filter(ticket=ticket, to_status=status).update(
            created_at=NOW - timedelta(days=days)
        )
        ticket.refresh_from_db()
        return ticket

    return close


def paths(ticket):
    return [a.file.path for a in ticket.attachments.all()]


def open_or_none(path):
    try:
        return open(path, "rb").read()
    except FileNotFoundError:
        return None


def purge(django_capture_on_commit_callbacks, now=NOW):
    with django_capture_on_commit_callbacks(execute=True):
        return personal_data_purge(now=now)


def test_purge_blanks_the_personal_data_of_a_request_closed_91_days_ago(
    closed_ticket, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(91)
    files = paths(ticket)
    history = list(ticket.events.values_list("from_status", "to_status", "created_at", "actor"))
    deliveries = list(ticket.notifications.values_list("channel", "kind", "status", "sent_at", "created_at"))

    assert purge(django_capture_on_commit_callbacks) == 1

    purged = Ticket.objects.get(pk=ticket.pk)
    for field in retention.PERSONAL_FIELDS:
        assert getattr(purged, field) == "", field
    assert purged.personal_data_removed_at == NOW
    for field in ["number", "status", "login", "role", "region_id", "created_at", "assignee_id"]:
        assert getattr(purged, field) == getattr(ticket, field), field
    assert not purged.attachments.exists()
    assert files and not any(open_or_none(p) for p in files)
    assert list(purged.events.values_list("from_status", "to_status", "created_at", "actor")) == history
    comments = " ".join(purged.events.values_list("comment", flat=True))
    assert "Заявка подана" in comments and "Новый пароль отправлен по SMS на [удалено]" in comments
    assert PHONE not in comments and EMAIL not in comments
    assert list(purged.notifications.values_list("channel", "kind", "status", "sent_at", "created_at")) == (
        deliveries
    )
    assert set(purged.notifications.values_list("status", flat=True)) == {Delivery.SENT}
    assert set(purged.notifications.values_list("recipient", flat=True)) == {""}


def test_purge_removes_the_stored_previews_too(closed_ticket, django_capture_on_commit_callbacks):
    ticket = closed_ticket(91)
    for attachment in ticket.attachments.all():
        attachment.render_preview()
    previews = [a.preview.path for a in ticket.attachments.all()]
    assert len(previews) == 2 and all(open_or_none(p) for p in previews)

    purge(django_capture_on_commit_callbacks)

    assert not any(open_or_none(p) for p in previews)


def test_purge_blanks_the_rejection_reason_and_its_history_note(
    closed_ticket, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(91, Status.REJECTED)

    purge(django_capture_on_commit_callbacks)

    ticket.refresh_from_db()
    assert ticket.status == Status.REJECTED
    assert ticket.rejection_reason == ""
    assert ticket.events.get(to_status=Status.REJECTED).comment == ""


def test_open_and_recently_closed_requests_are_untouched(
    file_ticket, closed_ticket, django_capture_on_commit_callbacks
):
    open_ticket = file_ticket()
    recent = closed_ticket(89)
    kept = {t.pk: (paths(t), t.events.count()) for t in [open_ticket, recent]}

    TicketEvent.objects.filter(ticket=open_ticket).update(created_at=NOW - timedelta(days=400))
    assert purge(django_capture_on_commit_callbacks) == 0

    for ticket in [open_ticket, recent]:
        ticket.refresh_from_db()
        assert ticket.personal_data_removed_at is None
        assert ticket.phone == PHONE and ticket.email == EMAIL and ticket.person_name == DATA["person_name"]
        assert (paths(ticket), ticket.events.count()) == kept[ticket.pk]
        assert all(open_or_none(p).startswith(b"%PDF") for p in paths(ticket))


def test_a_resend_after_closing_does_not_postpone_the_purge(
    closed_ticket, operator, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(91)
    notification = ticket.notifications.first()
    notification.status = Delivery.FAILED
    notification.save()
    services.notification_resend(notification=notification, by=operator)  # a done → done event, today

    assert purge(django_capture_on_commit_callbacks) == 1


def test_purge_is_idempotent(closed_ticket, django_capture_on_commit_callbacks):
    ticket = closed_ticket(91)
    purge(django_capture_on_commit_callbacks)

    assert purge(django_capture_on_commit_callbacks, now=NOW + timedelta(days=1)) == 0
    ticket.refresh_from_db()
    assert ticket.personal_data_removed_at == NOW


def test_files_are_deleted_only_after_the_batch_commits(closed_ticket, django_capture_on_commit_callbacks):
    files = paths(closed_ticket(91))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        personal_data_purge(now=NOW)
    assert all(open_or_none(p).startswith(b"%PDF") for p in files)

    for callback in callbacks:
        callback()
    assert not any(open_or_none(p) for p in files)


def test_purge_works_in_batches_and_logs_counts_without_personal_data(
    closed_ticket, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    tickets = [closed_ticket(100 + i) for i in range(3)]
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)

    with caplog.at_level(logging.INFO, logger="helpdesk.retention"):
        assert purge(django_capture_on_commit_callbacks) == 3

    assert [r.getMessage() for r in caplog.records if r.name == "helpdesk.retention"] == [
        "Personal data purge: 2 request(s), 4 file(s) removed",
        "Personal data purge: 1 request(s), 2 file(s) removed",
    ]
    assert Ticket.objects.filter(pk__in=[t.pk for t in tickets], personal_data_removed_at=NOW).count() == 3


def test_retention_period_comes_from_the_setting(settings, closed_ticket, django_capture_on_commit_callbacks):
    settings.PERSONAL_DATA_RETENTION_DAYS = 30
    ticket = closed_ticket(31)

    assert purge(django_capture_on_commit_callbacks) == 1
    ticket.refresh_from_db()
    assert ticket.email == ""


def test_the_beat_task_runs_the_purge(closed_ticket, django_capture_on_commit_callbacks):
    ticket = closed_ticket(91)
    files = paths(ticket)

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert purge_personal_data.delay().get() == 1

    ticket.refresh_from_db()
    assert ticket.personal_data_removed_at == NOW and ticket.phone == ""
    assert not any(open_or_none(p) for p in files)


def test_download_records_stay_without_the_file_name(
    closed_ticket, operator, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(91)
    login_client(operator).get(f"/admin/helpdesk/ticket/attachment/{ticket.attachments.first().pk}/download/")

    purge(django_capture_on_commit_callbacks)

    download = AttachmentDownload.objects.get()
    assert (download.ticket, download.user, download.attachment, download.file_name) == (
        ticket,
        operator,
        None,
        "",
    )


def test_the_admin_page_of_a_purged_request_opens_and_shows_the_removal_date(
    closed_ticket, operator, django_capture_on_commit_callbacks
):
    ticket = closed_ticket(91)
    purge(django_capture_on_commit_callbacks)

    response = login_client(operator).get(f"/admin/helpdesk/ticket/{ticket.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Персональные данные удалены" in html
    assert "1 марта 2027 г. 12:30" in html  # NOW in Moscow time
    assert ticket.number in html and "sch771234" in html
    assert PHONE not in html and EMAIL not in html and "Иванова" not in html


# --- Requests left open ------------------------------------------------------------------------


def leave_untouched(ticket, days):
    """Date the filing, and every event, ``days`` days before NOW."""
    when = NOW - timedelta(days=days)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=when)
    TicketEvent.objects.filter(ticket=ticket).update(created_at=when)


def abandoned(django_capture_on_commit_callbacks):
    # At NOW, so that the closing event is dated after the events it follows.
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        return abandoned_purge()


def test_a_request_open_and_untouched_for_181_days_is_closed_and_purged(
    file_ticket, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = file_ticket()
    files = paths(ticket)
    leave_untouched(ticket, 181)
    mailed = len(mailoutbox)

    assert abandoned(django_capture_on_commit_callbacks) == 1

    purged = Ticket.objects.get(pk=ticket.pk)
    assert purged.status == Status.REJECTED and purged.personal_data_removed_at == NOW
    for field in retention.PERSONAL_FIELDS:
        assert getattr(purged, field) == "", field
    assert (purged.number, purged.login) == (ticket.number, "sch771234")
    assert not purged.attachments.exists() and files and not any(open_or_none(p) for p in files)
    last = purged.events.last()
    assert (last.from_status, last.to_status, last.actor) == (Status.NEW, Status.REJECTED, None)
    assert last.comment == (
        "Закрыта без рассмотрения: заявка не менялась 180 дн. Персональные данные и файлы удалены."
    )
    assert len(mailoutbox) == mailed  # no email to an address nobody verified, about a forgotten request
    assert abandoned(django_capture_on_commit_callbacks) == 0


def test_open_requests_filed_or_worked_recently_are_kept(
    file_ticket, operator, django_capture_on_commit_callbacks
):
    young = file_ticket()
    leave_untouched(young, 179)
    worked = file_ticket()
    leave_untouched(worked, 400)
    services.ticket_take(ticket=worked, by=operator)
    TicketEvent.objects.filter(ticket=worked, to_status=Status.IN_PROGRESS).update(
        created_at=NOW - timedelta(days=10)
    )

    assert abandoned(django_capture_on_commit_callbacks) == 0

    for ticket in [young, worked]:
        ticket.refresh_from_db()
        assert ticket.is_open and ticket.phone == PHONE and ticket.personal_data_removed_at is None
        assert all(open_or_none(p).startswith(b"%PDF") for p in paths(ticket))


def test_the_abandoned_period_comes_from_the_setting(
    settings, file_ticket, django_capture_on_commit_callbacks
):
    settings.ABANDONED_REQUEST_DAYS = 30
    ticket = file_ticket()
    leave_untouched(ticket, 31)

    assert abandoned(django_capture_on_commit_callbacks) == 1
    assert "не менялась 30 дн." in Ticket.objects.get(pk=ticket.pk).events.last().comment


def test_the_beat_task_closes_abandoned_requests_too(
    file_ticket, closed_ticket, django_capture_on_commit_callbacks
):
    closed_ticket(91)
    leave_untouched(file_ticket(), 181)

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert purge_personal_data.delay().get() == 2
    assert not Ticket.objects.filter(personal_data_removed_at__isnull=True).exists()


# --- Files no row names --------------------------------------------------------------------------


def stored_file(media_root, name, age):
    path = media_root / "tickets" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(PDF)
    stamp = (timezone.now() - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_orphaned_files_a_day_old_are_swept_and_the_rest_kept(file_ticket, media_root, caplog):
    kept = paths(file_ticket())  # named by rows, however old
    for path in kept:
        os.utime(path, (0, 0))
    orphan = stored_file(media_root, "0123456789abcdef.pdf", timedelta(days=1, minutes=1))
    uploading = stored_file(media_root, "fedcba9876543210.pdf", timedelta(minutes=5))  # row not committed yet

    with caplog.at_level(logging.INFO, logger="helpdesk.retention"):
        assert orphaned_files_sweep() == 1

    assert not orphan.exists() and uploading.exists()
    assert all(open_or_none(p) == PDF for p in kept)
    assert "Orphaned attachment files removed: 1" in caplog.text


def test_sweep_on_an_empty_storage_removes_nothing(media_root):
    assert orphaned_files_sweep() == 0


def test_the_beat_task_sweeps_orphans(media_root, django_capture_on_commit_callbacks):
    orphan = stored_file(media_root, "0123456789abcdef.pdf", timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        purge_personal_data.delay().get()
    assert not orphan.exists()


# --- Sessions ---------------------------------------------------------------------------------------


def test_expired_sessions_are_cleared_daily(settings):
    from celery.schedules import crontab
    from django.contrib.sessions.models import Session

    entry = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert entry["task"] == "helpdesk.tasks.clear_expired_sessions"
    assert entry["schedule"] == crontab(hour=4, minute=0)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    Session.objects.create(
        session_key="e" * 32, session_data="", expire_date=timezone.now() - timedelta(seconds=1)
    )
    Session.objects.create(
        session_key="l" * 32, session_data="", expire_date=timezone.now() + timedelta(days=1)
    )

    clear_expired_sessions.delay().get()

    assert list(Session.objects.values_list("session_key", flat=True)) == ["l" * 32]
