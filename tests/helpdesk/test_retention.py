"""Personal data of requests closed long ago is removed; the record of the request stays."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from helpdesk import retention, services
from helpdesk.models import AttachmentDownload, Delivery, Status, Ticket, TicketEvent
from helpdesk.retention import personal_data_purge
from helpdesk.sms import locmem
from helpdesk.tasks import purge_personal_data
from tests.conftest import login_client
from tests.helpdesk.conftest import pdf

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
