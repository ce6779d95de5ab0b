"""Writes of the assessment cycle: applications (with their change log and optimistic
concurrency), participant codes and downloads."""

import secrets

from django.db import transaction
from django.utils import timezone

from .models import (
    Application,
    ApplicationChange,
    ApplicationWork,
    ArchiveDownload,
    Download,
    ParticipantCode,
    ResultUpload,
)

CODE_LOW, CODE_HIGH = 10000, 99999  # five digits, never a leading zero for a spreadsheet to drop
CODES_PER_WORK = CODE_HIGH - CODE_LOW + 1


class StaleApplication(Exception):
    """The application was saved by someone else since the form was opened."""

    def __init__(self, application):
        super().__init__("stale application")
        self.application = application


class CodesExhausted(Exception):
    pass


def _snapshot(application):
    """The application's works as the change log keeps them: code → participants and day."""
    return {
        aw.work.code: {"participants": aw.participants, "day": aw.day.isoformat()}
        for aw in application.works.select_related("work").order_by("work__code")
    }


def application_save(*, procedure, school, by, rows, version):
    """Replace the school's application with ``rows`` ({work: (participants, day)}).

    ``version`` is the one the form was opened with; when the application has been saved since,
    nothing is written and ``StaleApplication`` carries the current state. An unchanged form
    writes nothing and logs nothing. Returns the application.
    """
    with transaction.atomic():
        application, _ = Application.objects.get_or_create(procedure=procedure, school=school)
        application = Application.objects.select_for_update().get(pk=application.pk)
        if application.version != version:
            raise StaleApplication(application)
        before = _snapshot(application)
        after = {
            work.code: {"participants": participants, "day": day.isoformat()}
            for work, (participants, day) in sorted(rows.items(), key=lambda item: item[0].code)
        }
        if before == after:
            return application
        current = {aw.work_id: aw for aw in application.works.all()}
        application.works.exclude(work__in=[w.pk for w in rows]).delete()
        for work, (participants, day) in rows.items():
            line = current.get(work.pk)
            if line is None:
                ApplicationWork.objects.create(
                    application=application, work=work, participants=participants, day=day
                )
            elif (line.participants, line.day) != (participants, day):
                line.participants, line.day = participants, day
                line.save(update_fields=["participants", "day"])
        application.version += 1
        application.save(update_fields=["version", "updated_at"])
        ApplicationChange.objects.create(
            application=application, by=by, by_username=by.get_username(), before=before, after=after
        )
    return application


def codes_allocate(*, work, school, count):
    """The school's first ``count`` participant codes of ``work``, making the missing ones.

    Codes once made are kept, so a school gets the same codes on every download and more when its
    application grows. Uniqueness within the work is the database's (``participant_code_unique``):
    random candidates that collide with another school's are skipped and drawn again. The caller
    holds a lock on the school's application line, so one school's downloads do not race.
    """
    codes = list(ParticipantCode.objects.filter(work=work, school=school).values_list("code", flat=True))
    for _attempt in range(100):
        if len(codes) >= count:
            return codes[:count]
        need = count - len(codes)
        if ParticipantCode.objects.filter(work=work).count() + need > CODES_PER_WORK:
            raise CodesExhausted
        candidates = {str(CODE_LOW + secrets.randbelow(CODES_PER_WORK)) for _ in range(need)}
        ParticipantCode.objects.bulk_create(
            [ParticipantCode(work=work, school=school, code=code) for code in candidates],
            ignore_conflicts=True,
        )
        codes = list(ParticipantCode.objects.filter(work=work, school=school).values_list("code", flat=True))
    raise CodesExhausted


def archive_download(*, user, line):
    """Record a download of the archive of one application line (school × work) and return the
    school's participant codes for it; the first download stamps the line for «Ход работы ОО»."""
    with transaction.atomic():
        # The line's row only: without ``of`` PostgreSQL locks the joined work and school rows too, and
        # every school's download of a work queued behind the others at the release moment.
        line = (
            ApplicationWork.objects.select_for_update(of=("self",))
            .select_related("application__school", "work")
            .get(pk=line.pk)
        )
        school = line.application.school
        codes = codes_allocate(work=line.work, school=school, count=line.participants)
        now = timezone.now()
        ArchiveDownload.objects.create(
            account=user,
            username=user.get_username(),
            school=school,
            work=line.work,
            what=Download.ARCHIVE,
            at=now,
        )
        if line.archive_downloaded_at is None:
            line.archive_downloaded_at = now
            line.save(update_fields=["archive_downloaded_at"])
    return codes


def material_download(*, user, material, school=None):
    ArchiveDownload.objects.create(
        account=user,
        username=user.get_username(),
        school=school,
        work=material.work,
        material=material,
        what=Download.MATERIAL,
    )


def results_upload_record(*, school, work, at=None):
    """Record that ``school`` uploaded its results of ``work`` (a later upload replaces the time),
    and stamp its application line in the same transaction, so «Ход работы ОО» reads one table.
    The results upload of SPEC §8 calls this from its own service."""
    at = at or timezone.now()
    with transaction.atomic():
        upload, _ = ResultUpload.objects.update_or_create(
            school=school, work=work, defaults={"uploaded_at": at}
        )
        ApplicationWork.objects.filter(application__school=school, work=work).update(results_uploaded_at=at)
    return upload
