from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.management import call_command

from . import outbox, retention
from .models import Attachment


@shared_task(bind=True, max_retries=None)
def deliver_notification(self, notification_id):
    """Send one outbox row. Takes only its id: the text, and any password, are made here."""
    delay = outbox.deliver(notification_id)
    # Run eagerly (no broker), a failed row waits for the sweep instead of blocking the request.
    if delay is not None and not self.request.is_eager:
        raise self.retry(countdown=delay)


@shared_task
def sweep_outbox():
    """Beat: re-queue rows left pending — the broker was down at commit, or a worker died."""
    ids = outbox.due_for_retry(grace=settings.OUTBOX_SWEEP_GRACE)
    for notification_id in ids:
        deliver_notification.delay(notification_id)
    return len(ids)


@shared_task
def purge_personal_data():
    """Beat, daily: blank the personal data of requests closed longer ago than the retention period,
    close and blank those abandoned open, and delete stored files that no row names any more.

    Returns how many requests were purged.
    """
    purged = retention.personal_data_purge() + retention.abandoned_purge()
    retention.orphaned_files_sweep()
    return purged


@shared_task
def clear_expired_sessions():
    """Beat, daily: Django keeps expired sessions in the table until ``clearsessions`` removes them."""
    call_command("clearsessions")


@shared_task
def render_preview(attachment_id):
    """Render and keep one attachment's preview (a child process under a memory limit does the work)."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is not None:  # purged meanwhile: nothing to show
        attachment.render_preview()


@shared_task
def poll_mailbox():
    """Beat: take the letters waiting in the support mailbox (IMAP_URL; off when unset).

    A poll takes IMAP_BATCH letters at most; when more were waiting it queues the next batch at once
    rather than leave them for the next beat (a minute by default): a thousand letters are taken in
    the time it takes to record them, not in five minutes. A poll that took none (the server refused
    every letter) does not chain, so a mailbox of letters that cannot be taken does not loop.
    """
    from . import mailbox

    result = mailbox.read()
    if result is None:
        return None
    taken, more = result
    if more and taken:
        poll_mailbox.delay()
    return taken


@worker_ready.connect
def poll_mailbox_at_start(sender, **kwargs):
    """A worker that starts, a restart after a crash included, reads the mailbox at once: a poll that
    died with the old worker is not handed back by Redis for an hour, and the next beat is up to a
    minute away."""
    if settings.IMAP_URL:
        poll_mailbox.delay()


@shared_task
def close_unanswered():
    """Beat, hourly: close the requests that waited HELPDESK_WAIT_DAYS working days for an answer."""
    from .services import unanswered_close  # services queue through this module

    return unanswered_close()
