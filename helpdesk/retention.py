"""Removal of personal data from requests closed longer ago than the retention period, or left
open and untouched for longer than anyone will come back to them; and of stored files no row names.

What stays is what statistics and disputes need: the number, status, dates, login, role,
region, the status history and the delivery record of the notifications.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from .models import (
    ATTACHMENT_DIR,
    CLOSED_STATUSES,
    NOT_CLOSED_STATUSES,
    OPEN_STATUSES,
    Attachment,
    AttachmentDownload,
    Notification,
    Status,
    Ticket,
    TicketEvent,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
PERSONAL_FIELDS = [
    "organization_name",
    "phone",
    "email",
    "person_name",
    "head_name",
    "description",
    "rejection_reason",
]
REMOVED = "[удалено]"
# An upload is written to storage before the row naming it commits: younger files are never orphans.
ORPHAN_MIN_AGE = timedelta(days=1)


def personal_data_purge(*, now=None) -> int:
    """Blank the personal data of requests closed PERSONAL_DATA_RETENTION_DAYS ago; return how many.

    Works in batches, one transaction each, so a backlog of a million requests never becomes one
    huge transaction. Files are deleted only after their batch commits: a rollback keeps the rows,
    and so must keep the files.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=getattr(settings, "PERSONAL_DATA_RETENTION_DAYS", 90))
    total = 0
    while True:
        with transaction.atomic():
            ids = list(_due(cutoff).values_list("pk", flat=True)[:BATCH_SIZE])
            if not ids:
                return total
            files = _purge(ids, now)
            transaction.on_commit(lambda files=files: _delete_files(files))
        total += len(ids)
        log.info("Personal data purge: %d request(s), %d file(s) removed", len(ids), len(files))


def abandoned_purge(*, now=None) -> int:
    """Close requests open and untouched for ABANDONED_REQUEST_DAYS, removing their personal data at once.

    Nobody worked them and nobody will, so nothing justifies keeping a stranger's scans longer than
    those of a request that was answered. Each is closed as «Отклонена» with an event that says why;
    no email goes out (it would go to an address nobody verified, about a request long forgotten).
    Tickets an operator holds locked right now are skipped: they are being worked.
    """
    now = now or timezone.now()
    days = getattr(settings, "ABANDONED_REQUEST_DAYS", 180)
    cutoff = now - timedelta(days=days)
    comment = f"Закрыта без рассмотрения: заявка не менялась {days} дн. Персональные данные и файлы удалены."
    total = 0
    while True:
        with transaction.atomic():
            due = _abandoned(cutoff).select_for_update(skip_locked=True)
            rows = list(due.values_list("pk", "status")[:BATCH_SIZE])
            if not rows:
                return total
            ids = [pk for pk, _status in rows]
            files = _purge(ids, now)  # first: it blanks the note of a move to «Отклонена», not this one
            TicketEvent.objects.bulk_create(
                TicketEvent(ticket_id=pk, from_status=status, to_status=Status.REJECTED, comment=comment)
                for pk, status in rows
            )
            Ticket.objects.filter(pk__in=ids).update(status=Status.REJECTED, closed_at=now, updated_at=now)
            transaction.on_commit(lambda files=files: _delete_files(files))
        total += len(ids)
        log.info("Abandoned requests closed: %d request(s), %d file(s) removed", len(ids), len(files))


def _abandoned(cutoff):
    # Every workflow records an event, so «untouched» is: filed before the cutoff, no event since.
    recent = TicketEvent.objects.filter(ticket=OuterRef("pk"), created_at__gte=cutoff)
    return (
        Ticket.objects.filter(
            status__in=OPEN_STATUSES, personal_data_removed_at__isnull=True, created_at__lt=cutoff
        )
        .filter(~Exists(recent))
        .order_by("pk")
    )


def orphaned_files_sweep(*, now=None) -> int:
    """Delete stored attachment files that no row names, a day old at least; return how many.

    They are files whose deletion failed (a storage error during a purge: this is its daily retry)
    and files a process left behind when it died between a commit and the deletions that follow
    it. The listing has no dates (S3 gives none without a request per object), so only the few
    files without a row are asked their age.
    """
    storage = Attachment._meta.get_field("file").storage
    now = now or timezone.now()
    try:
        _folders, names = storage.listdir(ATTACHMENT_DIR)
    except FileNotFoundError:  # nothing was ever uploaded to this disk
        return 0
    removed = 0
    for start in range(0, len(names), BATCH_SIZE):
        batch = [f"{ATTACHMENT_DIR}/{name}" for name in names[start : start + BATCH_SIZE]]
        named = set(Attachment.objects.filter(file__in=batch).values_list("file", flat=True))
        for name in batch:
            if name in named:
                continue
            try:
                if storage.get_modified_time(name) > now - ORPHAN_MIN_AGE:
                    continue  # perhaps an upload whose row has not committed yet
                storage.delete(name)
            except Exception:  # the next day's sweep tries again
                log.warning("Could not delete orphaned attachment file %s", name, exc_info=True)
                continue
            removed += 1
    if removed:
        log.info("Orphaned attachment files removed: %d", removed)
    return removed


def _due(cutoff):
    # A closing event comes from an open status; a later «resend» event (done → done) does not
    # move the date the request was closed.
    closed_at = (
        TicketEvent.objects.filter(
            ticket=OuterRef("pk"), to_status__in=CLOSED_STATUSES, from_status__in=NOT_CLOSED_STATUSES
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return (
        Ticket.objects.filter(status__in=CLOSED_STATUSES, personal_data_removed_at__isnull=True)
        .annotate(closed_by_event=Subquery(closed_at))
        .filter(closed_by_event__lt=cutoff)
        .order_by("pk")
    )


def _purge(ids, now):
    """Blank one batch of tickets and what hangs off them; return the stored names of their files."""
    attachments = Attachment.objects.filter(ticket__in=ids)
    files = [name for pair in attachments.values_list("file", "preview") for name in pair if name]
    attachments.delete()
    _scrub_history(ids)
    Notification.objects.filter(ticket__in=ids).update(
        recipient="", last_error="", previous_password_hash="", issued_password_hash=""
    )
    # The user's file name may name a person; the audit keeps who downloaded what request, and when.
    AttachmentDownload.objects.filter(ticket__in=ids).update(file_name="")
    blank = dict.fromkeys(PERSONAL_FIELDS, "")
    Ticket.objects.filter(pk__in=ids).update(**blank, personal_data_removed_at=now)
    return files


def _scrub_history(ids):
    """Keep every event, but not the phone and email that operators' notes quote, nor a rejection reason."""
    rows = Ticket.objects.filter(pk__in=ids).values_list("pk", "phone", "email")
    contacts = {pk: (phone, email) for pk, phone, email in rows}
    changed = []
    for event in TicketEvent.objects.filter(ticket__in=ids).exclude(comment=""):
        comment = event.comment
        if event.to_status == Status.REJECTED and event.from_status in OPEN_STATUSES:
            comment = ""  # the rejection reason, free text written about the person
        for value in contacts[event.ticket_id]:
            if value:
                comment = comment.replace(value, REMOVED)
        if comment != event.comment:
            event.comment = comment
            changed.append(event)
    TicketEvent.objects.bulk_update(changed, ["comment"], batch_size=BATCH_SIZE)


def _delete_files(names):
    storage = Attachment._meta.get_field("file").storage
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # OSError on disk, botocore's own errors on S3: the other files still go
            # Stored names are random and say nothing about the person. The file now has no row:
            # the daily orphan sweep (``orphaned_files_sweep``) deletes it when storage is back.
            log.warning("Could not delete attachment file %s", name, exc_info=True)
