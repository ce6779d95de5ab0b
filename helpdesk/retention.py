"""Removal of personal data from requests closed longer ago than the retention period.

What stays is what statistics and disputes need: the number, status, dates, login, role,
region, the status history and the delivery record of the notifications.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .models import (
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
        .annotate(closed_at=Subquery(closed_at))
        .filter(closed_at__lt=cutoff)
        .order_by("pk")
    )


def _purge(ids, now):
    """Blank one batch of tickets and what hangs off them; return the stored names of their files."""
    attachments = Attachment.objects.filter(ticket__in=ids)
    files = [name for name in attachments.values_list("file", flat=True) if name]
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
            # Stored names are random and say nothing about the person.
            log.warning("Could not delete attachment file %s", name, exc_info=True)
