"""The helpdesk's workflows: each changes a ticket, records an event and queues its notifications."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.logins import parse_login
from accounts.models import User

from . import selectors, sms, wording, workdays
from .forms import clean_russian_mobile
from .models import (
    ACTIONABLE_STATUSES,
    CLOSED_STATUSES,
    NOT_CLOSED_STATUSES,
    OPEN_STATUSES,
    Attachment,
    Channel,
    Delivery,
    Direction,
    Kind,
    Notification,
    Preview,
    Status,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
    new_ticket_number,
)
from .tasks import deliver_notification, render_preview

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A refusal to show to the operator as it is (Russian)."""


def ticket_submit(*, data, files):
    """File a request with its attachments and queue the confirmation email.

    ``files`` are (uploaded file, clean name, detected type) triples from
    ``ApplyForm``. If anything fails, the files already written are removed,
    so a refused or failed submission leaves nothing on disk.
    """
    ticket = Ticket(**data, role=parse_login(data["login"]).role)
    stored = []
    try:
        with transaction.atomic():
            _save_with_unique_number(ticket)
            for uploaded, name, content_type in files:
                attachment = Attachment(
                    ticket=ticket, original_name=name, size=uploaded.size, content_type=content_type
                )
                attachment.file.save(name, uploaded, save=False)
                stored.append(attachment.file)
                attachment.save()
            if _confirmations_today(ticket.email) < settings.HELPDESK_EMAIL_PER_ADDRESS_DAY:
                TicketEvent.objects.create(ticket=ticket, to_status=Status.NEW, comment="Заявка подана")
                _notify(ticket, Channel.EMAIL, Kind.RECEIVED)
            else:
                comment = (
                    "Заявка подана. Подтверждение по e-mail не отправлено: на этот адрес за сутки уже "
                    f"отправлено {settings.HELPDESK_EMAIL_PER_ADDRESS_DAY} подтверждений."
                )
                TicketEvent.objects.create(ticket=ticket, to_status=Status.NEW, comment=comment)
    except BaseException:
        for file in stored:
            file.delete(save=False)
        raise
    log.info("Ticket %s filed with %d attachment(s)", ticket.number, len(stored))
    return ticket


def _confirmations_today(email):
    """Confirmations queued for this address in the last 24 hours.

    The address is typed by whoever files the request: without a cap, the form would mail anyone as
    often as the per-client throttle lets one client (and any number of clients) post. Operators'
    answers are not capped: a stranger cannot cause them.
    """
    return Notification.objects.filter(
        channel=Channel.EMAIL,
        kind=Kind.RECEIVED,
        recipient__iexact=email,
        created_at__gte=timezone.now() - timedelta(days=1),
    ).count()


def filed_summary(*, number):
    """What the success page reads back of the request just filed, in one query: the phone the SMS
    will go to, and whether its confirmation email was queued ({"phone", "mailed"}, or None)."""
    mailed = Notification.objects.filter(ticket=OuterRef("pk"), kind=Kind.RECEIVED)
    return Ticket.objects.filter(number=number).values("phone", mailed=Exists(mailed)).first()


def _save_with_unique_number(ticket, attempts=5):
    for _ in range(attempts):
        try:
            with transaction.atomic():
                ticket.save()
            return
        except IntegrityError:
            if Ticket.objects.filter(number=ticket.number).exists():
                ticket.number = new_ticket_number()
                continue
            raise
    raise RuntimeError("Could not find a free ticket number")


def ticket_find(*, number, email):
    """The ticket with this number filed from this email, or None (both must match)."""
    number = number.strip().upper()
    return Ticket.objects.filter(number=number, email__iexact=email.strip()).first()


def ticket_take(*, ticket, by, take_over=False):
    """«Взять в работу»: the operator becomes the assignee; a new ticket goes «В работе».

    A request another operator holds is not taken silently: without ``take_over`` (the page's
    «Забрать у …», pressed knowingly) it is refused, and nothing changes.
    """
    with transaction.atomic():
        ticket = _lock_open(ticket)
        if ticket.assignee_id == by.pk and ticket.status == Status.IN_PROGRESS:
            return ticket
        if ticket.assignee_id not in (None, by.pk) and not take_over:
            raise ServiceError(
                f"Заявку № {ticket.number} уже взял в работу {ticket.assignee.get_username()}. "
                "Чтобы забрать её, нажмите «Забрать у …» на странице заявки."
            )
        previous = ticket.assignee.get_username() if ticket.assignee_id not in (None, by.pk) else ""
        comment = f"Исполнитель: {by.get_username()}" + (f" (забрана у {previous})" if previous else "")
        _record(ticket, by, Status.IN_PROGRESS, comment)
        ticket.assignee = by
        ticket.save(update_fields=["status", "assignee", "updated_at"])
    return ticket


def ticket_take_next(*, by):
    """«Взять следующую»: the oldest open request nobody holds becomes this operator's; None if none.

    SKIP LOCKED lets two operators who press it at once each get a different request instead of
    one waiting for the other and then taking the same one.
    """
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN_STATUSES, assignee__isnull=True)
            .order_by("created_at", "pk")
            .first()
        )
        if ticket is None:
            return None
        _record(ticket, by, Status.IN_PROGRESS, f"Исполнитель: {by.get_username()}")
        ticket.assignee = by
        ticket.save(update_fields=["status", "assignee", "updated_at"])
    return ticket


def password_issue(*, ticket, by):
    """«Выдать новый пароль»: the ticket goes «Пароль отправляется» and the SMS is queued.

    The password itself is made later, by the worker that sends the SMS
    (``outbox._deliver_password``), so it never passes through the database, a
    log or the broker. The ticket is «Выполнена» once the gateway has the SMS
    (``password_sent``), or back in the queue if it cannot be sent (``password_failed``).
    """
    with transaction.atomic():
        ticket = _lock_open(ticket)
        if ticket.kind == TicketKind.QUESTION:
            raise ServiceError(
                f"Заявка № {ticket.number} — вопрос, полученный по e-mail, а не заявка на замену пароля: "
                "пароль по ней не выдаётся. Ответьте заявителю или попросите подать заявку через форму."
            )
        account = _lock_account_for_password(ticket)
        _record(ticket, by, Status.SENDING, f"Новый пароль отправляется по SMS на {ticket.phone}")
        if ticket.assignee_id is None:
            ticket.assignee = by
        ticket.password_sms_failed = False
        ticket.save(update_fields=["status", "assignee", "password_sms_failed", "updated_at"])
        notification = Notification.objects.create(
            ticket=ticket,
            channel=Channel.SMS,
            kind=Kind.PASSWORD,
            recipient=ticket.phone,
            # The hash the password replaces: restored if the gateway refuses the SMS, and the proof,
            # at a resend, that the user has not changed the password since.
            previous_password_hash=account.password,
            previous_must_change=account.must_change_password,
        )
        _queue(notification)
    return ticket


def _lock_account_for_password(ticket):
    """The account a password may be issued to, its row locked; refuse if one is on the way already.

    The lock makes two operators' «Выдать новый пароль» for one login, on two requests, take turns;
    the second sees the first request «Пароль отправляется» and is refused (the database's unique
    constraint on sending tickets per login holds the same rule).
    """
    account = User.objects.select_for_update().filter(username=ticket.login, is_staff=False).first()
    if account is None:
        raise ServiceError(selectors.NO_ACCOUNT.format(login=ticket.login))
    if not account.is_active:
        raise ServiceError(selectors.BLOCKED.format(login=ticket.login))
    sending = Ticket.objects.filter(login=ticket.login, status=Status.SENDING).exclude(pk=ticket.pk).first()
    if sending is not None:
        raise ServiceError(
            f"По логину «{ticket.login}» уже отправляется новый пароль (заявка № {sending.number}): "
            "дождитесь, пока SMS уйдёт, или закройте эту заявку."
        )
    return account


def ticket_phone_change(*, ticket, by, phone):
    """«Исправить телефон»: take the number from the letter when the typed one is wrong."""
    try:
        phone = clean_russian_mobile(phone or "")
    except ValidationError as error:
        raise ServiceError(error.messages[0]) from None
    return _correct(ticket, by, "phone", phone, "Телефон")


def ticket_email_change(*, ticket, by, email):
    """«Исправить e-mail»: take the address from the letter; later mail goes to it."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError("Введите правильный адрес электронной почты.") from None
    return _correct(ticket, by, "email", email, "E-mail")


def _correct(ticket, by, field, value, label):
    """Put ``value`` in the open ticket's ``field``; an event keeps the old and the new value."""
    with transaction.atomic():
        ticket = _lock_open(ticket)
        old = getattr(ticket, field)
        if value == old:
            raise ServiceError(f"{label} в заявке уже {value}.")
        TicketEvent.objects.create(
            ticket=ticket,
            actor=by,
            from_status=ticket.status,
            to_status=ticket.status,
            comment=f"{label} изменён: {old} → {value}",
        )
        setattr(ticket, field, value)
        ticket.save(update_fields=[field, "updated_at"])
    return ticket


def ticket_reject(*, ticket, by, reason):
    """«Отклонить»: close the ticket with a reason that is emailed to the requester."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Укажите причину отклонения.")
    with transaction.atomic():
        ticket = _lock_open(ticket)
        _record(ticket, by, Status.REJECTED, reason)
        ticket.rejection_reason = reason
        if ticket.assignee_id is None:
            ticket.assignee = by
        ticket.save(update_fields=["status", "rejection_reason", "assignee", "closed_at", "updated_at"])
        _notify(ticket, Channel.EMAIL, Kind.REJECTED)
    return ticket


def notification_resend(*, notification, by):
    """«Отправить повторно»: put a failed notification back in the outbox."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update().select_related("ticket").get(pk=notification.pk)
        )
        if notification.status != Delivery.FAILED:
            raise ServiceError("Повторно отправить можно только уведомление с ошибкой.")
        ticket = notification.ticket
        to_status = ticket.status
        if notification.kind == Kind.PASSWORD:
            ticket = _lock_open(ticket)
            account = _lock_account_for_password(ticket)
            # Its password never reached the user, who may have got in since (remembered the old one,
            # or by another request): a new one now would lock them out.
            known = {notification.previous_password_hash, notification.issued_password_hash} - {""}
            if known and account.password not in known:
                raise ServiceError(
                    f"Пароль учётной записи «{ticket.login}» сменён после выдачи: повторная отправка "
                    "сбросила бы его. Если пароль всё же нужен, выдайте новый."
                )
            to_status = Status.SENDING
            ticket.password_sms_failed = False
        # A fresh series of attempts; the event below keeps the history.
        notification.status = Delivery.PENDING
        notification.last_error = ""
        notification.attempts = 0
        notification.next_attempt_at = timezone.now()
        if notification.channel == Channel.SMS:
            notification.recipient = ticket.phone  # as the operator may have corrected it
        notification.save(update_fields=["status", "last_error", "attempts", "next_attempt_at", "recipient"])
        _record(ticket, by, to_status, f"Повторная отправка: {notification}")
        ticket.save(update_fields=["status", "password_sms_failed", "updated_at"])
        _queue(notification)
    return notification


def other_open_tickets(ticket):
    """Open tickets for the same login, other than this one: staff are warned of them."""
    if not ticket.login:  # a question that came by email
        return Ticket.objects.none()
    return Ticket.objects.filter(login=ticket.login, status__in=NOT_CLOSED_STATUSES).exclude(pk=ticket.pk)


def _lock_open(ticket):
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == Status.SENDING:
        raise ServiceError(
            f"По заявке № {ticket.number} отправляется новый пароль: дождитесь, пока SMS уйдёт."
        )
    if not ticket.is_actionable:
        raise ServiceError(f"Заявка № {ticket.number} уже закрыта ({ticket.get_status_display().lower()}).")
    return ticket


def _record(ticket, by, to_status, comment):
    if ticket.status == Status.WAITING and to_status not in (Status.WAITING, *CLOSED_STATUSES):
        _end_wait(ticket)
    TicketEvent.objects.create(
        ticket=ticket, actor=by, from_status=ticket.status, to_status=to_status, comment=comment
    )
    ticket.status = to_status
    # The dashboard counts closings by this stamp; callers that close save it with the status.
    ticket.closed_at = timezone.now() if to_status in CLOSED_STATUSES else None


def _notify(ticket, channel, kind):
    recipient = ticket.phone if channel == Channel.SMS else ticket.email
    _queue(Notification.objects.create(ticket=ticket, channel=channel, kind=kind, recipient=recipient))


def password_sent(*, ticket):
    """The gateway has the password SMS: the request is done, and now the email may say so.

    Runs in the transaction that marks the SMS sent.
    """
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == Status.SENDING:
        _record(ticket, None, Status.DONE, f"Новый пароль отправлен по SMS на {ticket.phone}")
        ticket.save(update_fields=["status", "closed_at", "updated_at"])
    _notify(ticket, Channel.EMAIL, Kind.DONE)


def password_failed(*, ticket, error):
    """The password SMS failed for good: the request goes back to the operators' queue, saying why.

    Runs in the transaction that marks the SMS failed.
    """
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status != Status.SENDING:
        return
    _record(
        ticket,
        None,
        Status.IN_PROGRESS,
        f"SMS с паролем не отправлено на {ticket.phone}: {sms.in_russian(error)}. "
        "Пароль учётной записи не выдан. "
        "Проверьте телефон по письму (при необходимости исправьте его) и выдайте пароль снова.",
    )
    ticket.password_sms_failed = True
    ticket.save(update_fields=["status", "password_sms_failed", "updated_at"])


def _queue(notification):
    # robust: a broker that is down is logged; the row waits in the outbox for the sweep.
    transaction.on_commit(lambda: deliver_notification.delay(notification.pk), robust=True)


PREVIEW_REQUEUE_SECONDS = 120


def attachment_previews_queue(*, ticket):
    """Queue the render of each preview the request page lacks.

    Once per attachment every two minutes, so that reloading the page while a worker renders does
    not queue the same work again, and a worker that died mid-render is replaced. The page writes
    nothing, so there is no commit to wait for: run eagerly (tests, ``make run``), the previews are
    ready before the page is drawn.
    """
    pending = ticket.attachments.filter(preview_status=Preview.PENDING).order_by("pk")
    for attachment in pending:
        if attachment.previewable and cache.add(
            f"helpdesk:preview:{attachment.pk}", 1, PREVIEW_REQUEUE_SECONDS
        ):
            try:
                render_preview.delay(attachment.pk)
            except Exception:  # a broker that is down: the page still answers, a later view queues again
                log.warning("Could not queue the preview of attachment %s", attachment.pk, exc_info=True)


def ticket_due_extend(*, ticket, paused_from, paused_until):
    """Move the deadline on by the working time between ``paused_from`` and ``paused_until``: the time
    a request waited for its requester («Ожидает ответа заявителя») does not count against the desk.
    """
    from . import workdays

    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.due_at is not None:
            paused = workdays.working_time_between(paused_from, paused_until)
            ticket.due_at = workdays.add_working_time(ticket.due_at, paused)
            ticket.save(update_fields=["due_at", "updated_at"])
    return ticket


# The conversation (issue 16): «Запросить уточнение», the requester's answer through the private
# link, the operator's reply by email, and the close of requests left unanswered.


def ticket_clarify(*, ticket, by, text):
    """«Запросить уточнение»: the request waits for its requester, who gets the text and a private link.

    The deadline stops while it waits (``ticket_due_extend`` when the wait ends). Asking again while it
    waits sends the new text and starts the wait anew.
    """
    text = (text or "").strip()
    if not text:
        raise ServiceError("Напишите, что нужно уточнить: этот текст получит заявитель.")
    with transaction.atomic():
        ticket = _lock_open(ticket)
        if ticket.status == Status.WAITING:
            _end_wait(ticket)  # the pause so far is counted; a new one begins now
        _record(ticket, by, Status.WAITING, "Запрошено уточнение у заявителя")
        ticket.waiting_since = timezone.now()
        ticket.answered = False
        if ticket.assignee_id is None:
            ticket.assignee = by
        ticket.save(
            update_fields=["status", "waiting_since", "answered", "assignee", "closed_at", "updated_at"]
        )
        _send_message(ticket, by, Kind.CLARIFICATION, f"Заявка № {ticket.number}: нужно уточнение", text)
    return ticket


def ticket_reply(*, ticket, by, text):
    """«Ответить по e-mail»: the operator's letter to the requester joins the thread; the status stays."""
    text = (text or "").strip()
    if not text:
        raise ServiceError("Напишите текст ответа.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.personal_data_removed_at is not None:
            raise ServiceError(f"Данные заявки № {ticket.number} удалены: ответить некому.")
        _send_message(ticket, by, Kind.REPLY, f"Заявка № {ticket.number}: ответ службы поддержки", text)
    return ticket


def _send_message(ticket, by, kind, subject, text):
    message = TicketMessage.objects.create(
        ticket=ticket,
        direction=Direction.OUT,
        author=by,
        sender=wording.sender_email(),
        subject=subject,
        body=text,
    )
    _queue(
        Notification.objects.create(
            ticket=ticket, channel=Channel.EMAIL, kind=kind, recipient=ticket.email, message=message
        )
    )
    return message


def ticket_answer(*, ticket_id, comment, files):
    """The requester's answer through the private link: a message with its files joins the request.

    A request that waits goes back to the operators' queue marked «заявитель ответил»; one already
    back may get more (a forgotten file); a closed one, or one whose password is on its way, refuses.
    ``files`` are checked as /apply/ checks them (``ReplyForm``); written files are removed on failure.
    """
    stored = []
    try:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
            _refuse_answer(ticket)
            message = TicketMessage.objects.create(
                ticket=ticket,
                direction=Direction.IN,
                subject="Ответ заявителя по ссылке из письма",
                body=comment.strip(),
            )
            for uploaded, name, content_type in files:
                attachment = Attachment(
                    ticket=ticket,
                    message=message,
                    original_name=name,
                    size=uploaded.size,
                    content_type=content_type,
                )
                attachment.file.save(name, uploaded, save=False)
                stored.append(attachment.file)
                attachment.save()
            requester_answered(ticket, f"Заявитель ответил по ссылке из письма (файлов: {len(stored)})")
    except BaseException:
        for file in stored:
            file.delete(save=False)
        raise
    log.info("Ticket %s answered through its link with %d file(s)", ticket.number, len(stored))
    return ticket


def _refuse_answer(ticket):
    if ticket is None or ticket.personal_data_removed_at is not None:
        raise ServiceError(
            "Заявка по этой ссылке не найдена: вероятно, она закрыта давно. Подайте новую заявку."
        )
    if ticket.status == Status.SENDING:
        raise ServiceError(
            f"По заявке № {ticket.number} уже отправляется новый пароль по SMS: ответ больше не нужен."
        )
    if ticket.status not in ACTIONABLE_STATUSES:
        raise ServiceError(
            f"Заявка № {ticket.number} уже закрыта ({ticket.get_status_display().lower()}): ответ по ней "
            "не принимается. Если вопрос остался, подайте новую заявку."
        )


def requester_answered(ticket, note):
    """The requester answered, through the private link or by email (``ticket`` is locked): a request
    that waits goes back to the operators' queue, to its operator if it had one, marked answered."""
    if ticket.status == Status.WAITING:
        _record(ticket, None, Status.IN_PROGRESS if ticket.assignee_id else Status.NEW, note)
    else:
        TicketEvent.objects.create(
            ticket=ticket, from_status=ticket.status, to_status=ticket.status, comment=note
        )
    if ticket.is_open:
        ticket.answered = True
    ticket.save(update_fields=["status", "answered", "closed_at", "updated_at"])


def ticket_answer_check(*, ticket_id):
    """The request the link opens, or ServiceError: the answer page says so before a file is chosen."""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    _refuse_answer(ticket)
    return ticket


def _end_wait(ticket):
    """The wait for the requester ends: the deadline moves on by the working time it lasted."""
    if ticket.waiting_since is not None:
        ticket.due_at = ticket_due_extend(
            ticket=ticket, paused_from=ticket.waiting_since, paused_until=timezone.now()
        ).due_at


def unanswered_close(*, now=None):
    """Close the requests that have waited HELPDESK_WAIT_DAYS working days for an answer; each gets
    the rejection email saying why. Returns how many were closed.

    The working days are counted on the production calendar (helpdesk/workdays.py); the query only
    narrows by calendar days, which are never fewer.
    """
    now = now or timezone.now()
    days = settings.HELPDESK_WAIT_DAYS
    candidates = Ticket.objects.filter(
        status=Status.WAITING, waiting_since__lte=now - timedelta(days=days)
    ).values_list("pk", "waiting_since")
    due = [pk for pk, since in candidates if workdays.add_working_time(since, days * workdays.DAY) <= now]
    reason = (
        f"Нет ответа на запрос уточнения в течение {wording.working_days(days)}. "
        "Если замена пароля ещё нужна, подайте новую заявку."
    )
    closed = 0
    for pk in due:
        with transaction.atomic():
            # Skip one an operator or the requester holds right now: its wait is ending anyway.
            ticket = (
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.WAITING)
                .first()
            )
            if ticket is None:
                continue
            _record(ticket, None, Status.REJECTED, reason)
            ticket.rejection_reason = reason
            ticket.save(update_fields=["status", "rejection_reason", "closed_at", "updated_at"])
            _notify(ticket, Channel.EMAIL, Kind.REJECTED)
        closed += 1
    if closed:
        log.info("Requests closed after waiting %d working days for an answer: %d", days, closed)
    return closed
