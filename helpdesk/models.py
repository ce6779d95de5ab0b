import secrets
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.logins import Role

from . import previews, workdays


class InformationSystem(models.TextChoices):
    FIS_OKO = "fis_oko", "ФИС ОКО"
    ESPD = "espd", "Подключение к ЭСПД"
    OTHER = "other", "Другая"


class OrganizationType(models.TextChoices):
    EXECUTIVE = "executive", "Орган исполнительной власти субъекта РФ"
    MUNICIPAL = "municipal", "Муниципальный орган управления образованием"
    SCHOOL = "school", "Общеобразовательная организация"
    COLLEGE = "college", "Профессиональная образовательная организация"
    OTHER = "other", "Другое"


class Reason(models.TextChoices):
    COORDINATOR_CHANGE = "coordinator_change", "Смена координатора"
    LOST = "lost", "Утеря пароля"
    OTHER = "other", "Другое"


class Status(models.TextChoices):
    NEW = "new", "Новая"
    IN_PROGRESS = "in_progress", "В работе"
    # Between the operator's «Выдать новый пароль» and the SMS leaving: neither open nor done.
    SENDING = "sending", "Пароль отправляется"
    # «Запросить уточнение»: out of the queue until the requester answers through the private link;
    # closed by the sweep after HELPDESK_WAIT_DAYS working days without an answer.
    WAITING = "waiting", "Ожидает ответа заявителя"
    DONE = "done", "Выполнена"
    REJECTED = "rejected", "Отклонена"


class TicketKind(models.TextChoices):
    PASSWORD = "password", "Замена пароля"
    # A letter to the support mailbox that is not a reply to a request: answered, never a password.
    QUESTION = "question", "Вопрос"


# No 0/O, 1/I/L: a number is read out over the phone and typed by hand.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_ticket_number():
    """Eight random characters as «XXXX-XXXX»: short, and says nothing about volume."""
    raw = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


OPEN_STATUSES = [Status.NEW, Status.IN_PROGRESS]
CLOSED_STATUSES = [Status.DONE, Status.REJECTED]
NOT_CLOSED_STATUSES = [*OPEN_STATUSES, Status.WAITING, Status.SENDING]
# What an operator may still act on: the queue, and a request waiting for its requester (who may
# have answered by phone, or whose request can be decided without the answer).
ACTIONABLE_STATUSES = [*OPEN_STATUSES, Status.WAITING]


class Ticket(models.Model):
    """A password-replacement request filed through /apply/."""

    number = models.CharField("номер", max_length=9, unique=True, default=new_ticket_number, editable=False)
    status = models.CharField("статус", max_length=20, choices=Status.choices, default=Status.NEW)
    # The database default lets rows be written without the ORM (seed_scale's COPY).
    kind = models.CharField(
        "вид",
        max_length=10,
        choices=TicketKind.choices,
        default=TicketKind.PASSWORD,
        db_default=TicketKind.PASSWORD,
    )
    organization_name = models.CharField("наименование организации", max_length=500)
    information_system = models.CharField(
        "информационная система", max_length=20, choices=InformationSystem.choices
    )
    # None only for a request that came by email («Вопрос»): a letter names no region.
    region = models.ForeignKey(
        "accounts.Region", models.PROTECT, null=True, blank=True, verbose_name="субъект РФ"
    )
    phone = models.CharField("телефон", max_length=16)
    email = models.EmailField("e-mail")
    organization_type = models.CharField(
        "тип образовательной организации", max_length=20, choices=OrganizationType.choices
    )
    login = models.CharField("логин", max_length=32)
    role = models.CharField("роль", max_length=20, choices=[(r.value, r.label) for r in Role])
    person_name = models.CharField("ФИО лица, для которого меняется пароль", max_length=300)
    head_name = models.CharField("ФИО руководителя организации", max_length=300, blank=True)
    reason = models.CharField("причина замены", max_length=30, choices=Reason.choices)
    description = models.TextField("описание", max_length=5000)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="исполнитель"
    )
    rejection_reason = models.TextField("причина отклонения", blank=True)
    created_at = models.DateTimeField("создана", auto_now_add=True)
    updated_at = models.DateTimeField("изменена", auto_now=True)
    personal_data_removed_at = models.DateTimeField("персональные данные удалены", null=True, blank=True)
    # Set when the password SMS failed for good and the request came back to the queue; cleared when a
    # password is issued again. The list shows it, so the operator checks the phone first.
    password_sms_failed = models.BooleanField("SMS с паролем не ушло", default=False)
    # Set when the requester answers a clarification through the private link, so the queue shows
    # that the ball is back with the desk; cleared when the operator asks again or closes it.
    answered = models.BooleanField("заявитель ответил", default=False)
    # When it last went «Ожидает ответа заявителя»: the auto-close counts working days from here.
    waiting_since = models.DateTimeField("ожидает ответа с", null=True, blank=True)
    # Stamped by every move to «Выполнена» or «Отклонена»: the dashboard's closed-per-day and median.
    closed_at = models.DateTimeField("закрыта", null=True, blank=True)
    # HELPDESK_ANSWER_DAYS working days from filing (helpdesk/workdays.py), set when the request is
    # saved first; time spent waiting for the requester moves it on (services.ticket_due_extend).
    due_at = models.DateTimeField("срок", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "заявка"
        verbose_name_plural = "заявки"
        constraints = [
            # Two requests for one login must not both put a password on the way: each would reset
            # the other's, and one SMS would carry a dead password.
            models.UniqueConstraint(
                fields=["login"],
                condition=models.Q(status="sending"),
                name="ticket_one_password_sending_per_login",
            ),
        ]
        indexes = [
            # The daily purge looks only at closed tickets not purged yet: a small part of the table.
            models.Index(
                fields=["status"],
                condition=models.Q(personal_data_removed_at__isnull=True),
                name="ticket_not_purged",
            ),
            models.Index(fields=["-created_at"], name="ticket_created"),
            models.Index(fields=["status", "-created_at"], name="ticket_status_created"),
            models.Index(fields=["region", "status"], name="ticket_region_status"),
            models.Index(fields=["login"], name="ticket_login"),
            # The dashboard's closed per day and the median time to close read recent closings only.
            models.Index(
                fields=["closed_at"], condition=models.Q(closed_at__isnull=False), name="ticket_closed"
            ),
            models.Index(
                fields=["waiting_since"], condition=models.Q(status="waiting"), name="ticket_waiting"
            ),
            # The operators' queue, the list's default: open requests oldest first, a few thousand
            # among a million; without it the scan walks the closed ones from the oldest.
            models.Index(
                fields=["created_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="ticket_queue",
            ),
            # «Просрочена» reads open requests past their deadline: a few among a million.
            models.Index(
                fields=["due_at"], condition=models.Q(status__in=OPEN_STATUSES), name="ticket_open_due"
            ),
            # The admin's «=field» search is iexact, UPPER(field) = UPPER(term): these serve it. The
            # word search on organization_name has a trigram index, on PostgreSQL only (migration 0005).
            models.Index(Upper("number"), name="ticket_number_upper"),
            models.Index(Upper("login"), name="ticket_login_upper"),
            models.Index(Upper("email"), name="ticket_email_upper"),
            models.Index(Upper("phone"), name="ticket_phone_upper"),
        ]

    def __str__(self):
        return f"№ {self.number}"

    def save(self, *args, **kwargs):
        if self.due_at is None and self._state.adding:
            self.due_at = workdays.due(timezone.now(), settings.HELPDESK_ANSWER_DAYS)
        super().save(*args, **kwargs)

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_actionable(self):
        return self.status in ACTIONABLE_STATUSES

    @property
    def is_overdue(self):
        return self.is_open and self.due_at is not None and self.due_at < timezone.now()

    def status_since(self):
        """When the ticket entered its present status: its latest event into it (the status page)."""
        event = self.events.filter(to_status=self.status).order_by("-created_at", "-pk").first()
        return event.created_at if event else self.created_at


# The folder (the key prefix on S3) of every attachment: the daily sweep looks in it for orphans.
ATTACHMENT_DIR = "tickets"


def attachment_path(instance, filename):
    """A random stored name; the user's file name is kept only in the row."""
    suffix = PurePath(filename).suffix.lower()
    return f"{ATTACHMENT_DIR}/{uuid.uuid4().hex}{suffix}"


def preview_path(instance, filename):
    # Beside, not among, the uploads: a preview is ours, made from a file, and goes with it.
    return f"previews/{uuid.uuid4().hex}.png"


class Access(models.TextChoices):
    DOWNLOAD = "download", "скачивание"
    PREVIEW = "preview", "просмотр"


class Preview(models.TextChoices):
    PENDING = "pending", "Превью готовится"
    READY = "ready", "Готово"
    TOO_LARGE = "too_large", "Изображение слишком большое для просмотра, скачайте файл"
    FAILED = "failed", "Просмотр недоступен, скачайте файл"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="attachments", verbose_name="заявка")
    # The letter it came with, for a file that came by email.
    message = models.ForeignKey(
        "TicketMessage",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name="письмо",
    )
    file = models.FileField("файл", upload_to=attachment_path, max_length=200)
    original_name = models.CharField("имя файла", max_length=255)
    size = models.PositiveBigIntegerField("размер, байт")
    content_type = models.CharField("тип содержимого", max_length=100)
    # Rendered once by a worker (tasks.render_preview), then served as stored. The database
    # defaults let rows be written without the ORM (seed_scale's COPY).
    preview = models.FileField("превью", upload_to=preview_path, max_length=200, blank=True, db_default="")
    preview_status = models.CharField(
        "превью",
        max_length=10,
        choices=Preview.choices,
        default=Preview.PENDING,
        db_default=Preview.PENDING,
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = "вложение"
        verbose_name_plural = "вложения"
        # The orphan sweep asks, a thousand stored names at a time, which of them have a row.
        indexes = [models.Index(fields=["file"], name="attachment_file")]

    def __str__(self):
        return self.original_name

    @property
    def previewable(self):
        return self.content_type in previews.PREVIEWABLE

    def record_download(self, user, kind=Access.DOWNLOAD):
        return AttachmentDownload.objects.create(
            attachment=self,
            ticket_id=self.ticket_id,
            user=user,
            file_name=self.original_name,
            kind=kind,
        )

    def render_preview(self):
        """Render the preview in a child process under a memory limit and keep it; once only.

        A worker runs it (tasks.render_preview; inline when tasks run eagerly), and the decoding is
        in a child process either way: the web process only serves the stored PNG. When two tasks
        race, the first to record its result wins and the other drops its file.
        """
        if self.preview_status != Preview.PENDING or not self.previewable:
            return
        try:
            with self.file.open("rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            status, png = Preview.FAILED, None
        else:
            status, png = previews.render_isolated(data, self.content_type)
        storage = self.preview.storage
        name = storage.save(preview_path(self, ""), ContentFile(png)) if png else ""
        updated = Attachment.objects.filter(pk=self.pk, preview_status=Preview.PENDING).update(
            preview=name, preview_status=status
        )
        if not updated and name:
            storage.delete(name)
        self.refresh_from_db(fields=["preview", "preview_status"])


class Direction(models.TextChoices):
    IN = "in", "Входящее"
    OUT = "out", "Исходящее"


class TicketMessage(models.Model):
    """One letter of a request's conversation: from the requester (by email) or to them."""

    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="messages", verbose_name="заявка")
    direction = models.CharField("направление", max_length=3, choices=Direction.choices)
    # The letter's Message-ID (or, for a letter without one, a hash of its bytes): a letter read twice
    # from the mailbox, by a poller killed before it could mark it taken, is recognized, not doubled.
    message_id = models.CharField("Message-ID", max_length=998, unique=True, null=True, blank=True)
    sender = models.CharField("от", max_length=254, blank=True)
    subject = models.CharField("тема", max_length=500, blank=True)
    body = models.TextField("текст", blank=True)
    # The operator who wrote an outgoing message (a clarification, a reply); none for the requester's.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="автор",
    )
    created_at = models.DateTimeField("когда", auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "сообщение"
        verbose_name_plural = "переписка"

    def __str__(self):
        return f"{self.get_direction_display()}: {self.subject or '(без темы)'}"


class AttachmentDownload(models.Model):
    """One staff download or preview of an attachment: the audit trail of who saw a scan."""

    attachment = models.ForeignKey(
        Attachment, models.SET_NULL, null=True, blank=True, related_name="downloads", verbose_name="вложение"
    )
    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="downloads", verbose_name="заявка")
    # PROTECT: a user who has downloaded scans is deactivated, not deleted, so the trail keeps who.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="кто")
    file_name = models.CharField("имя файла", max_length=255)
    kind = models.CharField("что", max_length=10, choices=Access.choices, default=Access.DOWNLOAD)
    at = models.DateTimeField("когда", auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "скачивание или просмотр вложения"
        verbose_name_plural = "скачивания и просмотры вложений"
        indexes = [models.Index(fields=["-at"], name="download_at")]

    def __str__(self):
        return f"{self.file_name or '—'} ({self.ticket})"


class TicketEvent(models.Model):
    """One status change of a ticket: who, when, from, to, and why."""

    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="events", verbose_name="заявка")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто"
    )
    created_at = models.DateTimeField("когда", auto_now_add=True)
    from_status = models.CharField("было", max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField("стало", max_length=20, choices=Status.choices)
    comment = models.TextField("комментарий", blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "изменение статуса"
        verbose_name_plural = "история статусов"

    def __str__(self):
        return f"{self.get_from_status_display() or '—'} → {self.get_to_status_display()}"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class Kind(models.TextChoices):
    RECEIVED = "received", "Заявка зарегистрирована"
    PASSWORD = "password", "Новый пароль (SMS)"
    DONE = "done", "Заявка выполнена"
    REJECTED = "rejected", "Заявка отклонена"
    CLARIFICATION = "clarification", "Запрос уточнения"
    REPLY = "reply", "Ответ оператора"


class Delivery(models.TextChoices):
    PENDING = "pending", "Ожидает отправки"
    # Handed to the SMS gateway, its answer not known yet (in flight, or lost: then its status is asked).
    SENDING = "sending", "Отправляется"
    SENT = "sent", "Отправлено"
    FAILED = "failed", "Ошибка"


class Notification(models.Model):
    """One email or SMS to send: the outbox row, written with the change that causes it."""

    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="notifications", verbose_name="заявка")
    channel = models.CharField("канал", max_length=10, choices=Channel.choices)
    kind = models.CharField("вид", max_length=20, choices=Kind.choices)
    recipient = models.CharField("получатель", max_length=254)
    status = models.CharField("состояние", max_length=10, choices=Delivery.choices, default=Delivery.PENDING)
    # The operator's message an email carries (a clarification, a reply): the text it quotes.
    message = models.ForeignKey(
        "TicketMessage", models.CASCADE, null=True, blank=True, related_name="+", verbose_name="сообщение"
    )
    attempts = models.PositiveIntegerField("попыток", default=0)
    last_error = models.TextField("последняя ошибка", blank=True)
    provider_id = models.CharField("идентификатор у провайдера", max_length=100, blank=True)
    # A password SMS only. The account's hash when the password was issued, to restore it when the
    # gateway refuses the SMS, and to see that the user has not changed it since (the plain text of
    # no password is ever stored); the hash this SMS's password set, while its fate is not known.
    previous_password_hash = models.CharField(
        "прежний хеш пароля", max_length=128, blank=True, editable=False
    )
    previous_must_change = models.BooleanField("прежний признак смены пароля", default=False, editable=False)
    issued_password_hash = models.CharField(
        "хеш выданного пароля", max_length=128, blank=True, editable=False
    )
    # The SMS gateway (a name from SMS_BACKEND) of the last request: the one that took the message
    # once it is sent, and the one to ask about a message whose answer was lost.
    gateway = models.CharField("шлюз", max_length=200, blank=True)
    # Requests handed to the gateway, so that each gets its own message id (provider_id).
    gateway_requests = models.PositiveIntegerField("запросов к шлюзу", default=0)
    next_attempt_at = models.DateTimeField("следующая попытка", default=timezone.now)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "уведомление"
        verbose_name_plural = "уведомления"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            # The cap on confirmations per address counts a day's rows for one recipient (iexact).
            models.Index(Upper("recipient"), "created_at", name="notification_recipient_upper"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.get_kind_display()} → {self.recipient}"


class Purpose(models.TextChoices):
    CLARIFICATION = "clarification", "Запрос уточнения"
    REJECTION = "rejection", "Отклонение"
    REPLY = "reply", "Ответ по e-mail"


class ReplyTemplate(models.Model):
    """A canned reply («Шаблон ответа») that staff keep and operators start from.

    Its placeholders ({номер}, {логин}, {организация}, {заявитель}) are filled in on the operator's
    page, in the text the operator may still edit: what goes out is the text the operator sent.
    """

    title = models.CharField("название", max_length=200)
    purpose = models.CharField("для чего", max_length=20, choices=Purpose.choices)
    text = models.TextField("текст", max_length=5000)
    is_active = models.BooleanField("используется", default=True)

    class Meta:
        ordering = ["purpose", "title"]
        verbose_name = "шаблон ответа"
        verbose_name_plural = "шаблоны ответов"

    def __str__(self):
        return self.title
