"""Writes of results: the form's codes, the upload (checked whole, stored whole), and the marks
recomputed when staff change a work's scale."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from fisoko_portal.uploads import UploadError, check_file, clean_name, extension_of
from procedures import services as procedure_services
from procedures.models import ApplicationWork, ArchiveDownload, Download, ParticipantCode

from .marks import mark_for, primary_of, sums_of
from .models import Participant, Summary
from .sheets import FormRefused, read_form

# A filled form of 500 participants is some 60 KB; anything far larger is not one.
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Uploaded:
    taken: int
    absent: int


def form_codes(*, line):
    """The school's participant codes of the line's work, the same ones its archive carries
    (made now when the archive was never downloaded), under the line's lock as the archive does."""
    with transaction.atomic():
        # The line's row only, as the archive does: the work's row is every school's.
        line = (
            ApplicationWork.objects.select_for_update(of=("self",))
            .select_related("application__school", "work")
            .get(pk=line.pk)
        )
        return procedure_services.codes_allocate(
            work=line.work, school=line.application.school, count=line.participants
        )


def form_download(*, user, line):
    """«Форма сбора результатов» downloaded: its codes, and a record, as every download has (SPEC §7)."""
    with transaction.atomic():
        codes = form_codes(line=line)
        ArchiveDownload.objects.create(
            account=user,
            username=user.get_username(),
            school=line.application.school,
            work=line.work,
            what=Download.FORM,
        )
    return codes


def scale_of(work):
    return (work.scale_3, work.scale_4, work.scale_5)


def _check_upload(uploaded):
    try:
        name = clean_name(uploaded.name or "")
        if extension_of(name) != "xlsx":
            raise UploadError(
                f"Файл «{name}»: нужен файл Excel .xlsx — форма сбора результатов, скачанная на портале "
                "(другие форматы, в том числе .xls, .csv и .ods, не принимаются)."
            )
        if uploaded.size > MAX_FILE_BYTES:
            raise UploadError(
                f"Файл «{name}» больше {MAX_FILE_BYTES // 2**20} МБ: это не форма сбора результатов."
            )
        check_file(uploaded)
    except UploadError as error:
        raise FormRefused([str(error)]) from error
    return name


def results_upload(*, user, line, uploaded):
    """Check the whole file and, when every cell is right, replace the school's results of the
    work with it in one transaction: the participants' rows, the school's ``Summary`` and the
    upload stamp of «Ход работы ОО». Raises ``FormRefused`` (nothing stored) otherwise.

    The application line is locked first, so two uploads of one school and work run one after
    the other and the summary is always that of the rows stored; other schools are not held up.
    """
    name = _check_upload(uploaded)
    work, school = line.work, line.application.school
    tasks = list(work.tasks.all())
    codes = ParticipantCode.objects.filter(work=work, school=school).values_list("code", flat=True)
    uploaded.seek(0)
    rows = read_form(uploaded, tasks=tasks, codes=list(codes))
    return results_store(user=user, line=line, rows=rows, filename=name, tasks=tasks)


def results_store(*, user, line, rows, filename, tasks):
    """Replace the school's results of the line's work with ``rows`` (checked ``sheets.Row``s),
    its summary and its upload stamp, in one transaction under the line's lock. The upload calls
    it after the file's check; the demo calls it with generated rows."""
    work, school = line.work, line.application.school
    scale = scale_of(work)
    participants = []
    for row in rows:
        primary = primary_of(row.scores) if row.scores is not None else None
        participants.append(
            Participant(
                work=work,
                school=school,
                code=row.code,
                grade_label=row.grade_label,
                variant=row.variant,
                scores=list(row.scores) if row.scores is not None else None,
                primary=primary,
                mark=mark_for(primary, scale) if primary is not None else None,
                sex=row.sex,
                journal=row.journal,
            )
        )
    sums = sums_of(
        [(row.scores, row.journal) for row in rows],
        task_count=len(tasks),
        max_total=sum(t.max for t in tasks),
        scale=scale,
    )
    now = timezone.now()
    with transaction.atomic():
        ApplicationWork.objects.select_for_update().filter(pk=line.pk).values_list("pk").get()
        Participant.objects.filter(work=work, school=school).delete()
        Participant.objects.bulk_create(participants)
        Summary.objects.update_or_create(
            work=work,
            school=school,
            defaults={
                "region_id": school.region_id,
                "municipality_id": school.municipality_id,
                "participants": sums.participants,
                "absent": sums.absent,
                "marks_2": sums.marks[2],
                "marks_3": sums.marks[3],
                "marks_4": sums.marks[4],
                "marks_5": sums.marks[5],
                "lowered": sums.lowered,
                "confirmed": sums.confirmed,
                "raised": sums.raised,
                "score_sum": sums.score_sum,
                "tasks": sums.tasks,
                "scores": sums.scores,
                "uploaded_at": now,
                "uploaded_by": user.get_username(),
                "filename": filename[:255],
            },
        )
        procedure_services.results_upload_record(school=school, work=work, at=now)
    return Uploaded(taken=sums.participants, absent=sums.absent)


def work_marks_recompute(*, work):
    """Marks of every participant of ``work`` through its current scale, and the schools' mark
    counts and journal comparisons with them. Holds every application line of the work, so no
    upload of the work runs meanwhile. The primary scores, task sums and histograms stay."""
    scale_3, scale_4, scale_5 = scale_of(work)
    with transaction.atomic():
        list(ApplicationWork.objects.select_for_update().filter(work=work).order_by("pk").values_list("pk"))
        Participant.objects.filter(work=work, primary__isnull=False).update(
            mark=Case(
                When(primary__gte=scale_5, then=Value(5)),
                When(primary__gte=scale_4, then=Value(4)),
                When(primary__gte=scale_3, then=Value(3)),
                default=Value(2),
            )
        )
        counts = (
            Participant.objects.filter(work=work, primary__isnull=False)
            .values("school_id")
            .annotate(
                **{f"marks_{m}": Count("pk", filter=Q(mark=m)) for m in (2, 3, 4, 5)},
                lowered=Count("pk", filter=Q(mark__lt=F("journal"))),
                confirmed=Count("pk", filter=Q(mark=F("journal"))),
                raised=Count("pk", filter=Q(mark__gt=F("journal"))),
            )
        )
        by_school = {c["school_id"]: c for c in counts}
        summaries = list(Summary.objects.filter(work=work))
        fields = ["marks_2", "marks_3", "marks_4", "marks_5", "lowered", "confirmed", "raised"]
        for summary in summaries:
            found = by_school.get(summary.school_id, {})
            for name in fields:
                setattr(summary, name, found.get(name, 0))
        Summary.objects.bulk_update(summaries, fields, batch_size=1000)
    return len(summaries)
