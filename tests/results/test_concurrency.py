"""Parallel uploads on PostgreSQL: each school's summary is always that of the rows stored."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from accounts.models import School
from results import services
from results.marks import sums_of
from results.models import Participant, Summary
from tests.conftest import require_service

from .conftest import XLSX, fill

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_uploads_and_reuploads_keep_every_summary_exact(
    reference_data, make_work, apply_for, school
):
    # reference_data first: the regions come from a data migration that an earlier transactional
    # test's flush removed, and the school's municipality needs its region.
    require_service(connection.vendor == "postgresql", "row locks need PostgreSQL (DATABASE_URL)")
    from procedures import archives
    from procedures.models import ApplicationWork
    from results import sheets

    work = make_work()
    schools = [School.objects.create(region_id="77", code=f"90{n:02d}", name=f"Школа {n}") for n in range(4)]
    lines = [apply_for(work, s, participants=20) for s in schools]
    forms = {}
    for line in lines:
        codes = services.form_codes(line=line)
        forms[line.pk] = sheets.form_workbook(
            work=work,
            school=line.application.school,
            codes=codes,
            variants=archives.variants_for(line.application.school, []),
            tasks=list(work.tasks.all()),
        )

    def rows(seed):
        # Different contents per attempt: the last one to commit must be what the summary says.
        return [
            ["5А", 1, (seed + n) % 2, (seed * n) % 3, (seed + 2 * n) % 4, "МЖ"[n % 2], 2 + (seed + n) % 4]
            if (seed + n) % 5
            else [None] * 7
            for n in range(20)
        ]

    errors = []

    def worker(line_pk, seed):
        try:
            line = ApplicationWork.objects.select_related("work", "application__school").get(pk=line_pk)
            data = fill(forms[line_pk], rows(seed))
            services.results_upload(
                user=school, line=line, uploaded=SimpleUploadedFile("r.xlsx", data, content_type=XLSX)
            )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=(line.pk, seed)) for seed in range(1, 5) for line in lines
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert Summary.objects.count() == 4
    for summary in Summary.objects.all():
        stored = Participant.objects.filter(work=work, school=summary.school_id)
        assert stored.count() == 20
        expected = sums_of(
            [(p.scores, p.journal) for p in stored], task_count=3, max_total=6, scale=(2, 4, 6)
        )
        assert (summary.participants, summary.absent) == (expected.participants, expected.absent)
        assert [summary.marks_2, summary.marks_3, summary.marks_4, summary.marks_5] == [
            expected.marks[m] for m in (2, 3, 4, 5)
        ]
        assert (summary.lowered, summary.confirmed, summary.raised) == (
            expected.lowered,
            expected.confirmed,
            expected.raised,
        )
        assert summary.tasks == expected.tasks and summary.scores == expected.scores
