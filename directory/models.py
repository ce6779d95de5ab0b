from django.conf import settings
from django.db import models
from django.db.models import Q


class DirectoryImport(models.Model):
    """One upload of the school directory: its preview, and the import once confirmed.

    Kept for good: who ran it, when, the file's name and checksum, and the report.
    """

    class Status(models.TextChoices):
        REFUSED = "refused", "Файл не принят"
        PREVIEW = "preview", "Предпросмотр, ждёт подтверждения"
        RUNNING = "running", "Выполняется"
        DONE = "done", "Выполнен"
        FAILED = "failed", "Не выполнен"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="кто"
    )
    created_at = models.DateTimeField("загружен", auto_now_add=True)
    updated_at = models.DateTimeField("обновлён", auto_now=True)
    started_at = models.DateTimeField("начат", null=True, blank=True)
    finished_at = models.DateTimeField("окончен", null=True, blank=True)
    file = models.FileField("файл", upload_to="directory/", blank=True)
    file_name = models.CharField("имя файла", max_length=255)
    checksum = models.CharField("SHA-256 файла", max_length=64)
    status = models.CharField("состояние", max_length=10, choices=Status.choices, default=Status.PREVIEW)
    progress = models.PositiveSmallIntegerField("выполнено, %", default=0)
    preview = models.JSONField("предпросмотр", default=dict, blank=True)
    report = models.JSONField("отчёт", default=dict, blank=True)
    message = models.TextField("сообщение", blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "импорт справочника"
        verbose_name_plural = "импорты справочника"
        constraints = [
            # Two imports at once would race on the same codes: the database admits one running.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="directory_one_running_import"
            ),
        ]

    def __str__(self):
        return f"Импорт № {self.pk} ({self.file_name})"


class CredentialHandover(models.Model):
    """A coordinator's request for new initial passwords of schools, and the record of its handover.

    The passwords exist only inside the encrypted ``file``, sealed to a key whose private half is
    in the coordinator's browser (``directory.sealed``); the file is deleted once downloaded or
    when it expires. The list of accounts stays, as the record of who got access from whom.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "В очереди"
        RUNNING = "running", "Готовится"
        READY = "ready", "Готов к скачиванию"
        DOWNLOADED = "downloaded", "Скачан"
        EXPIRED = "expired", "Не скачан вовремя, удалён"
        FAILED = "failed", "Ошибка"

    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="credential_handovers",
        verbose_name="координатор",
    )
    created_at = models.DateTimeField("запрошен", auto_now_add=True)
    status = models.CharField("состояние", max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField("выполнено, %", default=0)
    accounts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", verbose_name="учётные записи"
    )
    public_key = models.CharField("открытый ключ получателя", max_length=64, editable=False)
    file = models.FileField("зашифрованный файл", upload_to="credentials/", blank=True, editable=False)
    ready_at = models.DateTimeField("готов", null=True, blank=True)
    expires_at = models.DateTimeField("удаляется", null=True, blank=True)
    downloaded_at = models.DateTimeField("скачан", null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "выдача реквизитов доступа"
        verbose_name_plural = "выдачи реквизитов доступа"

    def __str__(self):
        return f"Реквизиты № {self.pk} ({self.coordinator})"
