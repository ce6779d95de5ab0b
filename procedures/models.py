"""The assessment cycle (SPEC §7): a procedure's plan-schedule, works, materials, the schools'
applications, participant codes, archive downloads, and the slot the results upload fills (§8)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

# A stage of the school's role whose title contains this (any case: «Заявка», «заявок», «заявки») is the
# application window; a coordinator's stage so named is the deadline for correcting applications.
APPLICATION_STAGE_MARK = "заяв"

MIN_PARTICIPANTS, MAX_PARTICIPANTS = 1, 500


class Kind(models.TextChoices):
    """The cabinet tab a procedure lives in has the same slug as its kind."""

    VPR = "vpr", "ВПР"
    NIKO = "niko", "НИКО"
    SPO = "spo", "СПО"
    KKO = "kko", "ФГККО"


class StageRole(models.TextChoices):
    SCHOOL = "school", "Образовательная организация"
    MUNICIPAL = "municipal", "Муниципальный координатор"
    REGIONAL = "regional", "Региональный координатор"
    FEDERAL = "federal", "Федеральный организатор"


class Procedure(models.Model):
    kind = models.CharField("вид", max_length=10, choices=Kind.choices)
    title = models.CharField("название", max_length=300)
    year = models.PositiveSmallIntegerField("год")

    class Meta:
        ordering = ["-year", "title"]
        verbose_name = "оценочная процедура"
        verbose_name_plural = "оценочные процедуры"
        constraints = [models.UniqueConstraint(fields=["title", "year"], name="procedure_unique_title_year")]

    def __str__(self):
        return f"{self.title} ({self.year})"

    def application_stage(self, role=StageRole.SCHOOL):
        """The stage of ``role`` whose title names applications, or None."""
        for stage in self.stages.all():
            if stage.role == role and APPLICATION_STAGE_MARK in stage.title.lower():
                return stage
        return None


class Stage(models.Model):
    """A line of the plan-schedule. ``ends`` is inclusive: a date alone in the file is the whole day."""

    procedure = models.ForeignKey(Procedure, models.CASCADE, related_name="stages", verbose_name="процедура")
    title = models.CharField("этап", max_length=300)
    role = models.CharField("ответственный", max_length=10, choices=StageRole.choices)
    starts = models.DateTimeField("начало")
    ends = models.DateTimeField("окончание")
    order = models.PositiveSmallIntegerField("порядок", default=0)

    class Meta:
        ordering = ["order", "starts", "pk"]
        verbose_name = "этап плана-графика"
        verbose_name_plural = "план-график"
        constraints = [
            models.CheckConstraint(condition=Q(ends__gte=F("starts")), name="stage_ends_after_starts")
        ]

    def __str__(self):
        return self.title

    def is_open(self, now=None):
        now = now or timezone.now()
        return self.starts <= now <= self.ends


class Work(models.Model):
    """A work = subject × grade, held by schools on a day of its window."""

    procedure = models.ForeignKey(Procedure, models.CASCADE, related_name="works", verbose_name="процедура")
    code = models.CharField("код", max_length=20)
    subject = models.CharField("предмет", max_length=200)
    grade = models.PositiveSmallIntegerField("класс")
    held_from = models.DateField("проводится с")
    held_until = models.DateField("проводится по")
    materials_at = models.DateTimeField("архивы доступны с")
    results_from = models.DateField("загрузка результатов с")
    results_until = models.DateField("загрузка результатов по")
    # The lowest primary scores of the marks 3, 4 and 5; below the first is 2.
    scale_3 = models.PositiveSmallIntegerField("первичный балл на «3»")
    scale_4 = models.PositiveSmallIntegerField("первичный балл на «4»")
    scale_5 = models.PositiveSmallIntegerField("первичный балл на «5»")

    class Meta:
        ordering = ["grade", "subject", "code"]
        verbose_name = "работа"
        verbose_name_plural = "работы"
        constraints = [
            models.UniqueConstraint(fields=["procedure", "code"], name="work_unique_code"),
            models.CheckConstraint(condition=Q(held_until__gte=F("held_from")), name="work_held_window"),
            models.CheckConstraint(
                condition=Q(scale_3__lt=F("scale_4"), scale_4__lt=F("scale_5")), name="work_scale_increases"
            ),
        ]

    def __str__(self):
        return f"{self.subject}, {self.grade} класс"

    def is_released(self, now=None):
        return self.materials_at <= (now or timezone.now())


class Task(models.Model):
    work = models.ForeignKey(Work, models.CASCADE, related_name="tasks", verbose_name="работа")
    label = models.CharField("задание", max_length=20)
    max = models.PositiveSmallIntegerField("максимальный балл")
    order = models.PositiveSmallIntegerField("порядок", default=0)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = "задание"
        verbose_name_plural = "задания"
        constraints = [
            models.UniqueConstraint(fields=["work", "label"], name="task_unique_label"),
            models.CheckConstraint(condition=Q(max__gte=1, max__lte=100), name="task_max_range"),
        ]

    def __str__(self):
        return self.label


class Material(models.Model):
    """A common document (instructions, criteria, forms) of a procedure or of one of its works.

    Nobody sees it before ``release_at``; one of a work goes only to the schools that applied for
    the work (and to coordinators).
    """

    procedure = models.ForeignKey(
        Procedure, models.CASCADE, related_name="materials", verbose_name="процедура"
    )
    work = models.ForeignKey(
        Work,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="materials",
        verbose_name="работа",
        help_text="Пусто — документ для всей процедуры.",
    )
    title = models.CharField("название", max_length=300)
    release_at = models.DateTimeField("доступен с")
    file = models.FileField("файл", upload_to="procedures/materials/%Y/")

    class Meta:
        ordering = ["release_at", "pk"]
        verbose_name = "документ процедуры"
        verbose_name_plural = "документы процедуры"

    def __str__(self):
        return self.title

    @property
    def filename(self):
        return self.file.name.rsplit("/", 1)[-1]


class Variant(models.Model):
    """A variant of a work for printing; each school gets some of them (``archives.variants_for``)."""

    work = models.ForeignKey(Work, models.CASCADE, related_name="variants", verbose_name="работа")
    number = models.PositiveSmallIntegerField("номер варианта")
    file = models.FileField("файл", upload_to="procedures/variants/%Y/")

    class Meta:
        ordering = ["number"]
        verbose_name = "вариант"
        verbose_name_plural = "варианты"
        constraints = [models.UniqueConstraint(fields=["work", "number"], name="variant_unique_number")]

    def __str__(self):
        return f"Вариант {self.number}"

    @property
    def filename(self):
        return self.file.name.rsplit("/", 1)[-1]


class Application(models.Model):
    """A school's «Заявка на участие» in a procedure. ``version`` grows with every save, so a
    form posted from a stale page is refused instead of overwriting a newer change."""

    procedure = models.ForeignKey(
        Procedure, models.CASCADE, related_name="applications", verbose_name="процедура"
    )
    school = models.ForeignKey(
        "accounts.School", models.CASCADE, related_name="applications", verbose_name="ОО"
    )
    version = models.PositiveIntegerField("версия", default=0)
    updated_at = models.DateTimeField("изменена", auto_now=True)

    class Meta:
        verbose_name = "заявка на участие"
        verbose_name_plural = "заявки на участие"
        constraints = [
            models.UniqueConstraint(fields=["procedure", "school"], name="application_unique_school"),
        ]

    def __str__(self):
        return f"Заявка {self.school_id} на {self.procedure_id}"


class ApplicationWork(models.Model):
    application = models.ForeignKey(Application, models.CASCADE, related_name="works", verbose_name="заявка")
    work = models.ForeignKey(Work, models.CASCADE, related_name="application_works", verbose_name="работа")
    participants = models.PositiveSmallIntegerField("участников")
    day = models.DateField("дата проведения")
    # Kept by the download service in the transaction that records the download, so «Ход работы ОО»
    # reads one row per school and work instead of scanning millions of download records.
    archive_downloaded_at = models.DateTimeField("архив впервые скачан", null=True, blank=True)
    # Kept the same way by ``services.results_upload_record`` (the results upload of SPEC §8 calls it).
    results_uploaded_at = models.DateTimeField("результаты загружены", null=True, blank=True)

    class Meta:
        ordering = ["work"]
        verbose_name = "работа в заявке"
        verbose_name_plural = "работы в заявке"
        constraints = [
            models.UniqueConstraint(fields=["application", "work"], name="application_work_unique"),
            models.CheckConstraint(
                condition=Q(participants__gte=MIN_PARTICIPANTS, participants__lte=MAX_PARTICIPANTS),
                name="application_work_participants_range",
            ),
        ]
        indexes = [models.Index(fields=["work", "archive_downloaded_at"], name="appwork_work_downloaded")]

    def __str__(self):
        return f"{self.work}: {self.participants}"


class ApplicationChange(models.Model):
    """Who changed an application when, with its works before and after (shown under the form)."""

    application = models.ForeignKey(
        Application, models.CASCADE, related_name="changes", verbose_name="заявка"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто"
    )
    by_username = models.CharField("логин", max_length=150)
    at = models.DateTimeField("когда", default=timezone.now)
    before = models.JSONField("было")
    after = models.JSONField("стало")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "изменение заявки"
        verbose_name_plural = "изменения заявки"

    def __str__(self):
        return f"{self.by_username}, {self.at:%d.%m.%Y %H:%M}"


class ParticipantCode(models.Model):
    """A five-digit participant code, unique within the work across all schools."""

    work = models.ForeignKey(Work, models.CASCADE, related_name="codes", verbose_name="работа")
    school = models.ForeignKey("accounts.School", models.CASCADE, related_name="+", verbose_name="ОО")
    code = models.CharField("код участника", max_length=5)

    class Meta:
        ordering = ["pk"]
        verbose_name = "код участника"
        verbose_name_plural = "коды участников"
        constraints = [models.UniqueConstraint(fields=["work", "code"], name="participant_code_unique")]
        indexes = [models.Index(fields=["work", "school"], name="participant_code_school")]

    def __str__(self):
        return self.code


class Download(models.TextChoices):
    ARCHIVE = "archive", "Архив ОО"
    MATERIAL = "material", "Документ"
    FORM = "form", "Форма сбора результатов"


class ArchiveDownload(models.Model):
    """Every download of a school's archive, its results form or a procedure's document: who, when, what."""

    account = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, verbose_name="кто")
    username = models.CharField("логин", max_length=150)
    school = models.ForeignKey(
        "accounts.School", models.CASCADE, null=True, related_name="+", verbose_name="ОО"
    )
    work = models.ForeignKey(Work, models.CASCADE, null=True, related_name="downloads", verbose_name="работа")
    material = models.ForeignKey(Material, models.CASCADE, null=True, related_name="downloads")
    what = models.CharField("что", max_length=10, choices=Download.choices)
    at = models.DateTimeField("когда", default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "скачивание"
        verbose_name_plural = "скачивания"
        indexes = [models.Index(fields=["work", "school"], name="download_work_school")]

    def __str__(self):
        return f"{self.username}: {self.get_what_display()}"


class ResultUpload(models.Model):
    """A school's results of a work; SPEC §8 fills it (the file, the rows) through
    ``services.results_upload_record``, which also stamps the application line «Ход работы ОО» reads."""

    school = models.ForeignKey("accounts.School", models.CASCADE, related_name="+", verbose_name="ОО")
    work = models.ForeignKey(Work, models.CASCADE, related_name="result_uploads", verbose_name="работа")
    uploaded_at = models.DateTimeField("загружено", default=timezone.now)

    class Meta:
        verbose_name = "загрузка результатов"
        verbose_name_plural = "загрузки результатов"
        constraints = [models.UniqueConstraint(fields=["work", "school"], name="result_upload_unique")]

    def __str__(self):
        return f"{self.school_id}: {self.work_id}"
