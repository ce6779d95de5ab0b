"""Delivery of outbox rows (``Notification``): claim, send, record.

An email is claimed with a row lock inside the transaction that sends it and
marks it sent, so two workers, or a redelivered message, never send it twice,
and a worker killed mid-send leaves it pending for the next attempt. The
password SMS is committed as "in flight" before the gateway is called: see
``_deliver_password``.
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
from .sms import SmsError, SmsMessage

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
    """Send one notification that is due. Returns the seconds to wait before a retry, or None."""
    kind = Notification.objects.filter(pk=notification_id).values_list("channel", "kind").first()
    if kind == (Channel.SMS, Kind.PASSWORD):
        return _deliver_password(notification_id)
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
    except Exception as error:
        return _record_failure(notification_id, error)
    log.info("Notification %s sent", notification_id)
    return None


def _send(notification):
    if notification.channel == Channel.EMAIL:
        emails.send_for(notification.kind, notification.ticket, notification.message)
        return ""
    raise PermanentError(f"Нет текста SMS для «{notification.get_kind_display()}»")


# The password SMS
#
# The new password is set and committed before the gateway is called, and the call is made outside
# any transaction, holding no lock: had the gateway taken the SMS and its answer been lost, a rollback
# would leave the user an SMS with a password that never worked. The row says what is in flight
# (status SENDING, the message id in provider_id, the hashes to restore), so every outcome is
# settled afterwards: taken - sent; refused - the previous hash is put back; not known - the
# gateway's status API is asked, before any other password is made.


def in_flight_lease():
    """How long a row handed to the gateway belongs to the worker sending it.

    Longer than any gateway call can take (its timeout applies to connecting and to each read);
    after it, a row still in flight is taken to be lost (a killed worker) and its fate asked.
    """
    return timedelta(seconds=max(60, 3 * settings.SMSC_TIMEOUT))


def _deliver_password(notification_id):
    gateways = sms.backend_names()
    try:
        # A status check that finds no trace of the last attempt frees the way for one new attempt.
        for _ in range(2):
            message, in_flight, gateway = _password_claim(notification_id, gateways)
            if message is None:
                return None
            backend = sms.get_backend(gateway)
            if in_flight:
                try:
                    outcome = backend.status(message)
                except SmsError as error:
                    return _record_failure(
                        notification_id, error, status=Delivery.SENDING, gateways=len(gateways)
                    )
                if outcome == sms.Outcome.ACCEPTED:
                    _password_accepted(notification_id, message.id)
                    return None
                _password_withdraw(notification_id, message.id)
                if outcome == sms.Outcome.FAILED:
                    raise SmsError("шлюз сообщил, что SMS не может быть доставлено", permanent=True)
                continue
            try:
                backend.send(message)
            except SmsError as error:
                if error.unclear:
                    return _record_failure(
                        notification_id, error, status=Delivery.SENDING, gateways=len(gateways)
                    )
                _password_withdraw(notification_id, message.id)
                raise
            _password_accepted(notification_id, message.id)
            return None
        return None
    except Exception as error:
        return _record_failure(notification_id, error, gateways=len(gateways))


def next_gateway(notification, gateways):
    """The gateway for a new request: the primary, or, after a failure, the one after the gateway
    that failed (the fallback after the primary, then the primary again)."""
    if notification.last_error and notification.gateway in gateways:
        return gateways[(gateways.index(notification.gateway) + 1) % len(gateways)]
    return gateways[0]


def _password_claim(notification_id, gateways):
    """Put a new password on the way: (the SMS to send, False, its gateway); or (the SMS to ask
    about, True, the gateway that has its id) for a row whose last attempt was never settled; or
    (None, False, None) when there is nothing to do.

    One short transaction: the new hash is committed before the gateway hears of the password.
    """
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket")
            .filter(pk=notification_id, status__in=[Delivery.PENDING, Delivery.SENDING])
            .first()
        )
        if notification is None:
            return None, False, None  # sent already, failed for good, or claimed by another worker
        if notification.status == Delivery.SENDING:
            # A second early: the retry of a row was queued with the same delay that dated it.
            if notification.next_attempt_at > now + timedelta(seconds=1):
                return None, False, None  # in flight with another worker, or waiting for its retry
            # Only the gateway that was given this id can say what became of it.
            message = SmsMessage(phone=notification.recipient, text="", id=notification.provider_id)
            return message, True, notification.gateway or gateways[0]
        login = notification.ticket.login
        account = (
            User.objects.select_for_update().filter(username=login, is_active=True, is_staff=False).first()
        )
        if account is None:
            raise PermanentError(f"Учётная запись «{login}» не найдена или заблокирована")
        if not notification.previous_password_hash:
            notification.previous_password_hash = account.password
            notification.previous_must_change = account.must_change_password
        elif account.password not in (notification.previous_password_hash, notification.issued_password_hash):
            raise PermanentError(
                f"Пароль учётной записи «{login}» сменён после выдачи: новый пароль не отправлен"
            )
        password = new_password()
        account.set_password(password)
        account.must_change_password = settings.ISSUED_PASSWORD_MUST_CHANGE
        account.save(update_fields=["password", "must_change_password"])
        notification.issued_password_hash = account.password
        notification.gateway_requests += 1
        # Its own id for each request (SMSC takes 1 … 2147483647): the handle to ask its fate by.
        notification.provider_id = str(notification.pk * 100 + notification.gateway_requests % 100)
        notification.gateway = next_gateway(notification, gateways)
        notification.status = Delivery.SENDING
        notification.next_attempt_at = now + in_flight_lease()
        notification.save()
    text = password_sms_text(login, password)
    return (
        SmsMessage(phone=notification.recipient, text=text, id=notification.provider_id),
        False,
        notification.gateway,
    )


# One billed segment: any Cyrillic letter makes the whole SMS UCS-2, 70 characters a segment.
SMS_SEGMENT_UCS2 = 70


def password_sms_text(login, password):
    """The password SMS: one segment for the longest login (``regRR_vpr_mNNN``, 57 characters), the
    password last with nothing after it, so that no full stop is taken for part of it. The portal
    asks for a password of one's own at the first login anyway, so the SMS need not say so.
    """
    return f"ФИС ОКО. Логин {login}, новый пароль: {password}"


def _in_flight(notification_id, message_id):
    """The row of an SMS on its way with this message id, locked; None once settled by another worker."""
    return (
        Notification.objects.select_for_update(of=("self",))
        .select_related("ticket")
        .filter(pk=notification_id, status=Delivery.SENDING, provider_id=message_id)
        .first()
    )


def _password_accepted(notification_id, message_id):
    """The gateway has the SMS: its password is the account's; the request is done."""
    from .services import password_sent  # services queues through tasks, which import this

    with transaction.atomic():
        notification = _in_flight(notification_id, message_id)
        if notification is None:
            return
        notification.status = Delivery.SENT
        notification.attempts += 1
        notification.sent_at = timezone.now()
        notification.last_error = ""
        notification.previous_password_hash = notification.issued_password_hash = ""
        notification.save()
        password_sent(ticket=notification.ticket)
    log.info("Notification %s sent", notification_id)


def _password_withdraw(notification_id, message_id):
    """The gateway does not have the SMS: the account gets its previous hash back, if it still holds
    ours (nobody changed it meanwhile), and the row waits for its next attempt."""
    with transaction.atomic():
        notification = _in_flight(notification_id, message_id)
        if notification is None:
            return
        account = User.objects.select_for_update().filter(username=notification.ticket.login).first()
        if account is not None and account.password == notification.issued_password_hash:
            account.password = notification.previous_password_hash
            account.must_change_password = notification.previous_must_change
            account.save(update_fields=["password", "must_change_password"])
        notification.issued_password_hash = ""
        notification.status = Delivery.PENDING
        notification.save(update_fields=["issued_password_hash", "status"])


def sms_backoff(attempts, gateways):
    """Seconds before the next attempt of an SMS after ``attempts`` failures, with ``gateways`` to try.

    With a fallback, the first failures are retried at once through the other gateway (a short pause
    lets a dropped connection or a rate limit pass): three errors in a row cost the requester
    seconds; only then do retries back off as with one gateway.
    """
    quick = settings.SMS_FALLBACK_QUICK if gateways > 1 else 0
    if attempts <= quick:
        return settings.SMS_FALLBACK_DELAY
    return backoff(attempts - quick)


def _record_failure(notification_id, error, *, status=Delivery.PENDING, gateways=1):
    """Count a failed attempt of a row in ``status``, which it keeps until it is given up.

    A row still SENDING (the gateway may have the SMS) keeps the new password when given up: if the
    SMS did arrive, that password is the one that works; the request goes back to the operators.
    """
    permanent = isinstance(error, (PermanentError, *PERMANENT_SMTP)) or getattr(error, "permanent", False)
    message = f"{type(error).__name__}: {error}"[:1000]
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("ticket")
            .filter(pk=notification_id, status=status)
            .first()
        )
        if notification is None:
            return None
        notification.attempts += 1
        notification.last_error = message
        give_up = permanent or notification.attempts >= MAX_ATTEMPTS
        delay = None if give_up else sms_backoff(notification.attempts, gateways)
        notification.status = Delivery.FAILED if give_up else status
        notification.next_attempt_at = timezone.now() + timedelta(seconds=delay or 0)
        notification.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        if give_up and notification.kind == Kind.PASSWORD:
            from .services import password_failed

            password_failed(ticket=notification.ticket, error=getattr(error, "message", None) or str(error))
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
        Notification.objects.filter(
            status__in=[Delivery.PENDING, Delivery.SENDING], next_attempt_at__lte=cutoff
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )


def backlog(cap):
    """(notifications not sent yet, of them failed for good), each counted up to ``cap`` + 1 rows.

    One query on the (status, next_attempt_at) index, so that it may stand on every page of the list.
    """
    rows = Notification.objects.filter(
        status__in=[Delivery.PENDING, Delivery.SENDING, Delivery.FAILED]
    ).order_by()
    counts = rows.values("status")[: cap + 1].aggregate(
        total=Count("pk"), failed=Count("pk", filter=Q(status=Delivery.FAILED))
    )
    return counts["total"], counts["failed"]
