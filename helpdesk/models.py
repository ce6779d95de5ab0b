import secrets
import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from accounts.logins import Role


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
    DONE = "done", "Выполнена"
    REJECTED = "rejected", "Отклонена"


# No 0/O, 1/I/L: a number is read out over the phone and typed by hand.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_ticket_number():
    """Eight random characters as «XXXX-XXXX»: short, and says nothing about volume."""
    raw = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


OPEN_STATUSES = [Status.NEW, Status.IN_PROGRESS]
CLOSED_STATUSES = [Status.DONE, Status.REJECTED]


class Ticket(models.Model):
    """A password-replacement request filed through /apply/."""

    number = models.CharField("номер", max_length=9, unique=True, default=new_ticket_number, editable=False)
    status = models.CharField("статус", max_length=20, choices=Status.choices, default=Status.NEW)
    organization_name = models.CharField("наименование организации", max_length=500)
    information_system = models.CharField(
        "информационная система", max_length=20, choices=InformationSystem.choices
    )
    region = models.ForeignKey("accounts.Region", models.PROTECT, verbose_name="субъект РФ")
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

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "заявка"
        verbose_name_plural = "заявки"
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
            # The admin's «=field» search is iexact, UPPER(field) = UPPER(term): these serve it. The
            # word search on organization_name has a trigram index, on PostgreSQL only (migration 0005).
            models.Index(Upper("number"), name="ticket_number_upper"),
            models.Index(Upper("login"), name="ticket_login_upper"),
            models.Index(Upper("email"), name="ticket_email_upper"),
            models.Index(Upper("phone"), name="ticket_phone_upper"),
        ]

    def __str__(self):
        return f"№ {self.number}"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

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


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="attachments", verbose_name="заявка")
    file = models.FileField("файл", upload_to=attachment_path, max_length=200)
    original_name = models.CharField("имя файла", max_length=255)
    size = models.PositiveBigIntegerField("размер, байт")
    content_type = models.CharField("тип содержимого", max_length=100)

    class Meta:
        ordering = ["pk"]
        verbose_name = "вложение"
        verbose_name_plural = "вложения"
        # The orphan sweep asks, a thousand stored names at a time, which of them have a row.
        indexes = [models.Index(fields=["file"], name="attachment_file")]

    def __str__(self):
        return self.original_name

    def record_download(self, user):
        return AttachmentDownload.objects.create(
            attachment=self, ticket_id=self.ticket_id, user=user, file_name=self.original_name
        )


class AttachmentDownload(models.Model):
    """One staff download of an attachment: the audit trail of who took a copy of a scan."""

    attachment = models.ForeignKey(
        Attachment, models.SET_NULL, null=True, blank=True, related_name="downloads", verbose_name="вложение"
    )
    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="downloads", verbose_name="заявка")
    # PROTECT: a user who has downloaded scans is deactivated, not deleted, so the trail keeps who.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="кто")
    file_name = models.CharField("имя файла", max_length=255)
    at = models.DateTimeField("когда", auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "скачивание вложения"
        verbose_name_plural = "скачивания вложений"
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


class Delivery(models.TextChoices):
    PENDING = "pending", "Ожидает отправки"
    SENT = "sent", "Отправлено"
    FAILED = "failed", "Ошибка"


class Notification(models.Model):
    """One email or SMS to send: the outbox row, written with the change that causes it."""

    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="notifications", verbose_name="заявка")
    channel = models.CharField("канал", max_length=10, choices=Channel.choices)
    kind = models.CharField("вид", max_length=20, choices=Kind.choices)
    recipient = models.CharField("получатель", max_length=254)
    status = models.CharField("состояние", max_length=10, choices=Delivery.choices, default=Delivery.PENDING)
    attempts = models.PositiveIntegerField("попыток", default=0)
    last_error = models.TextField("последняя ошибка", blank=True)
    provider_id = models.CharField("идентификатор у провайдера", max_length=100, blank=True)
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
