"""Delivery of outbox rows (``Notification``): claim, send, record.

A row is claimed with a row lock inside the transaction that sends it and
marks it sent, so two workers, or a redelivered message, never send it twice,
and a worker killed mid-send leaves it pending for the next attempt.
"""

import logging
import secrets
import smtplib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import User

from . import emails, sms
from .models import Channel, Delivery, Kind, Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Retries stay far below Redis' visibility timeout (1 h), or a waiting retry would be redelivered.
MAX_BACKOFF = 600
# Look-alikes (0/O, 1/l/I) left out: the password is typed from a phone screen.
PASSWORD_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_LENGTH = 12

# Failures that retrying cannot mend.
PERMANENT_SMTP = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)


class PermanentError(Exception):
    pass


def new_password():
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        if (
            any(c.isdigit() for c in password)
            and any(c.isupper() for c in password)
            and any(c.islower() for c in password)
        ):
            return password


def backoff(attempts):
    return min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def deliver(notification_id):
    """Send one pending notification. Returns the seconds to wait before a retry, or None."""
    try:
        with transaction.atomic():
            # of=self: the row lock must not take the ticket too, or the email of a request would be
            # skipped as "being sent" while a worker sends the SMS of the same request.
            notification = (
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("ticket")
                .filter(pk=notification_id, status=Delivery.PENDING)
                .first()
            )
            if notification is None:
                return None  # sent already, failed for good, or being sent by another worker
            notification.provider_id = _send(notification)[:100]
            notification.attempts = F("attempts") + 1
            notification.status = Delivery.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
            notification.save()
            if notification.kind == Kind.PASSWORD:
                from .services import password_sent  # services queues through tasks, which import this

                password_sent(ticket=notification.ticket)
    except Exception as error:
        return _record_failure(notification_id, error)
    log.info("Notification %s sent", notification_id)
    return None


def _send(notification):
    ticket = notification.ticket
    if notification.channel == Channel.EMAIL:
        emails.send_for(notification.kind, ticket)
        return ""
    if notification.kind != Kind.PASSWORD:
        raise PermanentError(f"Нет текста SMS для «{notification.get_kind_display()}»")
    # Made here, in the transaction that sets it: if the SMS fails, the old password stays.
    account = (
        User.objects.select_for_update().filter(username=ticket.login, is_active=True, is_staff=False).first()
    )
    if account is None:
        raise PermanentError(f"Учётная запись «{ticket.login}» не найдена или заблокирована")
    password = new_password()
    account.set_password(password)
    account.must_change_password = settings.ISSUED_PASSWORD_MUST_CHANGE
    account.save(update_fields=["password", "must_change_password"])
    text = f"ФИС ОКО. Логин {ticket.login}, новый пароль: {password}"
    if account.must_change_password:
        text += ". При входе задайте свой пароль."
    return sms.get_backend().send(sms.SmsMessage(phone=notification.recipient, text=text))


def _record_failure(notification_id, error):
    permanent = isinstance(error, (PermanentError, *PERMANENT_SMTP)) or getattr(error, "permanent", False)
    message = f"{type(error).__name__}: {error}"[:1000]
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, status=Delivery.PENDING)
            .first()
        )
        if notification is None:
            return None
        notification.attempts += 1
        notification.last_error = message
        give_up = permanent or notification.attempts >= MAX_ATTEMPTS
        delay = None if give_up else backoff(notification.attempts)
        notification.status = Delivery.FAILED if give_up else Delivery.PENDING
        notification.next_attempt_at = timezone.now() + timedelta(seconds=delay or 0)
        notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    log.warning(
        "Notification %s attempt %d failed (%s): %s",
        notification_id,
        notification.attempts,
        "permanent" if give_up else f"retry in {delay} s",
        message,
    )
    return delay


def due_for_retry(grace=60):
    """Ids of pending rows whose time has come, with ``grace`` seconds for a queued task to run."""
    cutoff = timezone.now() - timedelta(seconds=grace)
    return list(
        Notification.objects.filter(status=Delivery.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )


def backlog(cap):
    """(notifications not sent yet, of them failed for good), each counted up to ``cap`` + 1 rows.

    One query on the (status, next_attempt_at) index, so that it may stand on every page of the list.
    """
    rows = Notification.objects.filter(status__in=[Delivery.PENDING, Delivery.FAILED]).order_by()
    counts = rows.values("status")[: cap + 1].aggregate(
        total=Count("pk"), failed=Count("pk", filter=Q(status=Delivery.FAILED))
    )
    return counts["total"], counts["failed"]
