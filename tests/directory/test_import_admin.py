import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Municipality, School, User
from directory.models import DirectoryImport
from tests.conftest import login_client

from .conftest import ROWS, csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STAFF_OTP_REQUIRED = False
    user = User.objects.create_superuser("admin", password="x-correct-horse-1")
    return login_client(user)


def upload(client, data, name="справочник.csv"):
    return client.post(
        "/admin/directory/directoryimport/add/", {"file": SimpleUploadedFile(name, data)}, follow=True
    )


def confirm(client, record):
    return client.post(
        f"/admin/directory/directoryimport/{record.pk}/confirm/", {"checksum": record.checksum}
    )


def test_upload_shows_preview_and_writes_nothing(staff):
    page = upload(staff, csv_bytes()).content.decode()
    assert "Предпросмотр: строк в файле 3" in page
    assert '<th scope="row">Образовательные организации</th><td>3</td><td>0</td><td>0</td>' in page
    assert '<th scope="row">Учётные записи</th><td>6</td>' in page
    assert "Новая ОО 771234 «ГБОУ «Школа № 1234»»" in page
    assert "Подтвердить импорт" in page
    assert not School.objects.exists() and not User.objects.filter(is_staff=False).exists()


def test_confirm_imports_exactly_the_preview(staff, django_capture_on_commit_callbacks):
    upload(staff, csv_bytes())
    record = DirectoryImport.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(staff, record)
    page = staff.get(response.url).content.decode()
    record.refresh_from_db()
    assert record.status == "done" and record.progress == 100
    assert "Отчёт: строк в файле 3" in page
    assert School.objects.count() == 3 and Municipality.objects.count() == 2
    assert User.objects.filter(is_staff=False).count() == 6
    progress = staff.get(f"/admin/directory/directoryimport/{record.pk}/progress/").json()
    assert progress == {"status": "done", "status_display": "Выполнен", "progress": 100, "finished": True}
    listing = staff.get("/admin/directory/directoryimport/").content.decode()
    assert "справочник.csv" in listing and "ОО: +3 ~0" in listing


def test_bad_rows_listed_with_line_and_reason_and_no_confirm(staff):
    page = upload(staff, csv_bytes([*ROWS, ["99", "003", "Округ", "12", "Школа", "нет"]])).content.decode()
    assert "Ошибки в файле (2): файл не принят, ничего не записано" in page
    assert "<td>5</td><td>неизвестный код региона «99»</td>" in page
    assert "<td>5</td><td>код ОО «12» должен состоять из 4–6 цифр</td>" in page
    assert "Подтвердить импорт" not in page
    assert DirectoryImport.objects.get().status == "refused"
    assert not School.objects.exists()


def test_unreadable_file_gets_its_reason(staff):
    page = upload(staff, b"\x00\x01junk" * 10).content.decode()
    assert "Файл не принят" in page and "в нём двоичные данные" in page
    assert not School.objects.exists()


def test_confirm_of_changed_file_is_refused(staff, django_capture_on_commit_callbacks):
    upload(staff, csv_bytes())
    record = DirectoryImport.objects.get()
    with record.file.open("wb") as stored:
        stored.write(csv_bytes([*ROWS, ["77", "003", "Центральный округ", "7777", "Подмена", "нет"]]))
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(staff, record)
    page = staff.get(response.url).content.decode()
    assert "Файл изменился после предпросмотра: импорт не выполнен" in page
    record.refresh_from_db()
    assert record.status == "preview"
    assert not School.objects.exists()


def test_task_rechecks_the_stored_file(staff):
    from directory import services

    upload(staff, csv_bytes())
    record = DirectoryImport.objects.get()
    services.import_start(directory_import=record)
    with record.file.open("wb") as stored:
        stored.write(csv_bytes(ROWS[:1]))
    services.import_run(import_id=record.pk)
    record.refresh_from_db()
    assert record.status == "failed" and record.message.startswith("Файл изменился после предпросмотра")
    assert not School.objects.exists()


def test_second_import_at_once_is_refused(staff, django_capture_on_commit_callbacks):
    upload(staff, csv_bytes())
    upload(staff, csv_bytes(ROWS[:1]), "второй.csv")
    first, second = DirectoryImport.objects.order_by("pk")
    DirectoryImport.objects.filter(pk=first.pk).update(status="running")  # its worker is busy with it
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(staff, second)
    page = staff.get(response.url).content.decode()
    assert f"Сейчас выполняется другой импорт справочника (№ {first.pk}" in page
    second.refresh_from_db()
    assert second.status == "preview"
    assert not School.objects.exists()


def test_database_admits_one_running_import(db):
    from django.db import IntegrityError

    DirectoryImport.objects.create(file_name="a.csv", checksum="a", status="running")
    with pytest.raises(IntegrityError):
        DirectoryImport.objects.create(file_name="b.csv", checksum="b", status="running")


def test_staff_see_accounts_that_never_had_a_password(staff, make_account):
    make_account("sch771234")
    User.objects.create_user("sch775601")  # as the import makes them: no usable password
    page = staff.get("/admin/accounts/user/?no_password=yes").content.decode()
    assert "sch775601" in page and "sch771234" not in page
    assert "Пароль не выдавался" in page
