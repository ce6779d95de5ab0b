import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError
from docx import Document

from procedures.archives import variants_for
from procedures.models import (
    Application,
    ApplicationWork,
    ArchiveDownload,
    Material,
    ParticipantCode,
    Variant,
)
from procedures.services import codes_allocate
from tests.conftest import login_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def apply(procedure, school_row, participants=3, code="MA5"):
    work = procedure.works.get(code=code)
    application, _ = Application.objects.get_or_create(procedure=procedure, school=school_row)
    return ApplicationWork.objects.create(
        application=application, work=work, participants=participants, day=work.held_from
    )


def add_variants(work, count=4):
    for n in range(1, count + 1):
        Variant.objects.create(
            work=work, number=n, file=ContentFile(f"variant {n} ".encode() * 100, name=f"v{n}.pdf")
        )


def download(client, work):
    response = client.get(f"/cabinet/procedures/works/{work.pk}/archive/")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    assert not hasattr(response, "content") or response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def docx_text(data):
    doc = Document(io.BytesIO(data))
    return [cell.text for table in doc.tables for row in table.rows for cell in row.cells]


def test_archive_holds_variants_codes_and_protocol_and_is_recorded(make_procedure, school, school_org):
    procedure = make_procedure()
    line = apply(procedure, school_org, participants=6)
    add_variants(line.work)
    archive = download(login_client(school), line.work)
    expected = [v.number for v in variants_for(school_org, list(line.work.variants.all()))]
    assert len(expected) == 2
    assert sorted(archive.namelist()) == sorted(
        ["Коды участников.docx", "Протокол проведения.docx", *[f"Варианты/Вариант {n}.pdf" for n in expected]]
    )
    assert archive.read(f"Варианты/Вариант {expected[0]}.pdf") == f"variant {expected[0]} ".encode() * 100
    codes = list(
        ParticipantCode.objects.filter(work=line.work, school=school_org).values_list("code", flat=True)
    )
    assert len(codes) == 6 and all(len(c) == 5 and c.isdigit() for c in codes)
    cards = " ".join(docx_text(archive.read("Коды участников.docx")))
    assert all(code in cards for code in codes)
    protocol = docx_text(archive.read("Протокол проведения.docx"))
    assert protocol[:5] == ["№", "Код участника", "Вариант", "Класс (литера)", "ФИО участника"]
    assert protocol[6] == codes[0] and protocol[7] == str(expected[0])
    record = ArchiveDownload.objects.get()
    assert (record.username, record.school, record.work, record.what) == (
        "sch771234",
        school_org,
        line.work,
        "archive",
    )
    line.refresh_from_db()
    assert line.archive_downloaded_at == record.at


def test_codes_are_stable_and_grow_with_the_application(make_procedure, school, school_org):
    procedure = make_procedure()
    line = apply(procedure, school_org, participants=3)
    client = login_client(school)
    first = docx_text(download(client, line.work).read("Коды участников.docx"))
    assert docx_text(download(client, line.work).read("Коды участников.docx")) == first
    old = list(ParticipantCode.objects.values_list("code", flat=True))
    ApplicationWork.objects.filter(pk=line.pk).update(participants=5)
    download(client, line.work)
    new = list(ParticipantCode.objects.values_list("code", flat=True))
    assert new[:3] == old and len(new) == 5
    assert ArchiveDownload.objects.count() == 3


def test_codes_are_unique_within_a_work_across_schools(make_procedure, school_org, other_school, monkeypatch):
    from accounts.models import School
    from procedures import services

    procedure = make_procedure()
    work = procedure.works.get()
    other = School.objects.get(code="5601")
    # Draws that collide: the second school's candidates are first the codes the first one holds.
    draws = iter([0, 1, 2, 0, 1, 2, 3, 4, 5])
    monkeypatch.setattr(services.secrets, "randbelow", lambda n: next(draws))
    first = codes_allocate(work=work, school=school_org, count=3)
    second = codes_allocate(work=work, school=other, count=3)
    assert sorted(first) == ["10000", "10001", "10002"]
    assert not set(first) & set(second) and len(second) == 3
    with pytest.raises(IntegrityError):  # the database holds the invariant too
        ParticipantCode.objects.create(work=work, school=other, code=first[0])


def test_nothing_before_the_release_time_by_url_either(make_procedure, school, school_org):
    procedure = make_procedure(released=False)
    line = apply(procedure, school_org)
    client = login_client(school)
    tab = client.get("/cabinet/vpr/").content.decode()
    assert "Скачать архив" not in tab and "Архив будет доступен" in tab
    assert client.get(f"/cabinet/procedures/works/{line.work.pk}/archive/").status_code == 404
    assert not ArchiveDownload.objects.exists() and not ParticipantCode.objects.exists()


def test_no_archive_of_a_work_not_applied_for_nor_for_coordinators(
    make_procedure, school, school_org, other_school, regional_coordinator
):
    procedure = make_procedure(works=("MA5", "RU5"))
    line = apply(procedure, school_org, code="MA5")
    ru5 = procedure.works.get(code="RU5")
    assert login_client(school).get(f"/cabinet/procedures/works/{ru5.pk}/archive/").status_code == 404
    # Another school cannot have this school's archive: the URL names only the work, and it did not apply.
    assert (
        login_client(other_school).get(f"/cabinet/procedures/works/{line.work.pk}/archive/").status_code
        == 404
    )
    assert (
        login_client(regional_coordinator)
        .get(f"/cabinet/procedures/works/{line.work.pk}/archive/")
        .status_code
        == 404
    )
    assert not ArchiveDownload.objects.exists() and not ParticipantCode.objects.exists()


def test_documents_are_listed_and_served_only_once_released(make_procedure, school, school_org, make_account):
    from django.utils import timezone

    procedure = make_procedure(works=("MA5", "RU5"))
    apply(procedure, school_org, code="MA5")
    day = timezone.timedelta(days=1)
    common = Material.objects.create(
        procedure=procedure,
        title="Инструкция",
        release_at=timezone.now() - day,
        file=ContentFile(b"i", name="i.pdf"),
    )
    later = Material.objects.create(
        procedure=procedure,
        title="Критерии позже",
        release_at=timezone.now() + day,
        file=ContentFile(b"c", name="c.pdf"),
    )
    other_work = Material.objects.create(
        procedure=procedure,
        work=procedure.works.get(code="RU5"),
        title="Критерии RU5",
        release_at=timezone.now() - day,
        file=ContentFile(b"r", name="r.pdf"),
    )
    client = login_client(school)
    tab = client.get("/cabinet/vpr/").content.decode()
    assert "Инструкция" in tab and "Критерии позже" not in tab and "Критерии RU5" not in tab
    response = client.get(f"/cabinet/procedures/documents/{common.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"i"
    assert client.get(f"/cabinet/procedures/documents/{later.pk}/").status_code == 404
    assert client.get(f"/cabinet/procedures/documents/{other_work.pk}/").status_code == 404
    assert (
        login_client(make_account("niko_77")).get(f"/cabinet/procedures/documents/{common.pk}/").status_code
        == 404
    )
    assert list(ArchiveDownload.objects.values_list("what", "material__title")) == [
        ("material", "Инструкция")
    ]


def test_variants_are_assigned_by_the_school_code(school_org):
    from accounts.models import School

    variants = [Variant(number=n) for n in range(1, 11)]
    picks = {
        code: [v.number for v in variants_for(School(region_id="77", code=code), variants)]
        for code in ["1234", "0017", "5601", "9999"]
    }
    assert all(len(p) == 2 for p in picks.values())
    assert len({tuple(p) for p in picks.values()}) > 1
    assert picks["1234"] == [v.number for v in variants_for(school_org, list(reversed(variants)))]


def test_archive_streams_without_holding_its_variants_in_memory(make_procedure, school, school_org, tmp_path):
    import os
    import tracemalloc

    from django.core.files import File

    procedure = make_procedure()
    line = apply(procedure, school_org, participants=20)
    size = 24 * 1024 * 1024
    for n in (1, 2):
        path = tmp_path / f"big{n}.pdf"
        with open(path, "wb") as out:
            for _ in range(size // (1024 * 1024)):
                out.write(os.urandom(1024 * 1024))  # incompressible: the zip is as large as the files
        with open(path, "rb") as handle:
            Variant.objects.create(work=line.work, number=n, file=File(handle, name=f"big{n}.pdf"))
    client = login_client(school)
    tracemalloc.start()
    try:
        response = client.get(f"/cabinet/procedures/works/{line.work.pk}/archive/")
        total = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 2 * size
    assert peak < 8 * 1024 * 1024, peak


def test_variants_are_stored_as_they_are(make_procedure, school, school_org):
    """Variant PDFs do not shrink: deflating them was most of an archive's CPU at the release moment
    (bench/REPORT.md, the load test), so they are stored; the zip still checks out (every CRC)."""
    procedure = make_procedure()
    line = apply(procedure, school_org, participants=6)
    add_variants(line.work)
    archive = download(login_client(school), line.work)
    assert archive.testzip() is None
    kinds = {info.filename: info.compress_type for info in archive.infolist()}
    variants = [name for name in kinds if name.startswith("Варианты/")]
    assert len(variants) == 2 and all(kinds[name] == zipfile.ZIP_STORED for name in variants)


@pytest.mark.django_db(transaction=True)
def test_schools_downloading_the_same_work_do_not_wait_for_each_other(
    reference_data, make_procedure, school, school_org, other_school
):
    """At the release moment every school downloads the same works at once. A download locks its
    own application line only: locking the joined work row as well (``select_for_update`` without
    ``of``) made all the schools' downloads of a work queue behind one another (load test)."""
    import threading

    from django.db import connection, connections, transaction

    from accounts.models import School
    from procedures import services
    from tests.conftest import require_service

    require_service(connection.vendor == "postgresql", "row locks need PostgreSQL (DATABASE_URL)")
    procedure = make_procedure()
    mine = apply(procedure, school_org)
    theirs = apply(procedure, School.objects.get(code="5601"))
    services.archive_download(user=school, line=mine)  # its codes exist: the next download inserts none
    outcome = {}

    def other_school_downloads():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                outcome["codes"] = services.archive_download(user=other_school, line=theirs)
        except Exception as error:  # noqa: BLE001 - reported by the assertion
            outcome["error"] = repr(error)
        finally:
            connections.close_all()

    with transaction.atomic():  # the first school's download, not yet committed
        services.archive_download(user=school, line=mine)
        thread = threading.Thread(target=other_school_downloads)
        thread.start()
        thread.join(10)
    assert "error" not in outcome, outcome
    assert len(outcome["codes"]) == 3
