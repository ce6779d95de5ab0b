"""Results of a work (SPEC §8): one row per participant of a school's upload, and one summary row
per school and work that the reports add up (municipality, region, Russia) with SQL SUM."""

from django.db import models


class Participant(models.Model):
    """One row of a school's uploaded form. ``scores`` is None for a participant who was absent
    (all task cells empty); «Х» is kept as None inside the list and scores 0."""

    work = models.ForeignKey("procedures.Work", models.CASCADE, related_name="+", verbose_name="работа")
    school = models.ForeignKey("accounts.School", models.CASCADE, related_name="+", verbose_name="ОО")
    code = models.CharField("код участника", max_length=5)
    grade_label = models.CharField("класс", max_length=10, blank=True)
    variant = models.PositiveSmallIntegerField("вариант", null=True, blank=True)
    scores = models.JSONField("баллы по заданиям", null=True, blank=True)
    primary = models.PositiveSmallIntegerField("первичный балл", null=True, blank=True)
    mark = models.PositiveSmallIntegerField("отметка", null=True, blank=True)
    sex = models.CharField("пол", max_length=1, blank=True)
    journal = models.PositiveSmallIntegerField("отметка по журналу", null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "результат участника"
        verbose_name_plural = "результаты участников"
        constraints = [
            models.UniqueConstraint(fields=["work", "code"], name="result_participant_unique_code")
        ]
        indexes = [models.Index(fields=["work", "school"], name="result_participant_school")]

    def __str__(self):
        return self.code


class Summary(models.Model):
    """A school's results of a work, added up: kept by the upload service in the upload's
    transaction (under the lock of the school's application line), never per page view.

    ``tasks`` holds the points scored on each task (in the work's task order) by all present
    participants; ``scores`` the number of participants with each primary score (index = score).
    """

    work = models.ForeignKey("procedures.Work", models.CASCADE, related_name="+", verbose_name="работа")
    school = models.ForeignKey("accounts.School", models.CASCADE, related_name="+", verbose_name="ОО")
    # Copied from the school so that a region's or a municipality's sums read one table.
    region = models.ForeignKey("accounts.Region", models.PROTECT, related_name="+", verbose_name="субъект РФ")
    municipality = models.ForeignKey(
        "accounts.Municipality", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    participants = models.PositiveIntegerField("участников (выполняли)", default=0)
    absent = models.PositiveIntegerField("отсутствовали", default=0)
    marks_2 = models.PositiveIntegerField("«2»", default=0)
    marks_3 = models.PositiveIntegerField("«3»", default=0)
    marks_4 = models.PositiveIntegerField("«4»", default=0)
    marks_5 = models.PositiveIntegerField("«5»", default=0)
    lowered = models.PositiveIntegerField("понизили", default=0)
    confirmed = models.PositiveIntegerField("подтвердили", default=0)
    raised = models.PositiveIntegerField("повысили", default=0)
    score_sum = models.PositiveIntegerField("сумма первичных баллов", default=0)
    tasks = models.JSONField("баллы по заданиям", default=list)
    scores = models.JSONField("распределение первичных баллов", default=list)
    uploaded_at = models.DateTimeField("загружено")
    uploaded_by = models.CharField("кем", max_length=150)
    filename = models.CharField("файл", max_length=255)

    class Meta:
        verbose_name = "итоги ОО по работе"
        verbose_name_plural = "итоги ОО по работам"
        constraints = [models.UniqueConstraint(fields=["work", "school"], name="result_summary_unique")]
        indexes = [
            models.Index(fields=["work", "region"], name="result_summary_region"),
            models.Index(fields=["work", "municipality"], name="result_summary_municipality"),
        ]

    def __str__(self):
        return f"{self.school_id}: {self.work_id}"
