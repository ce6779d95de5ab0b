import io
import logging
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.utils import timezone
from python_calamine import CalamineWorkbook

from accounts.models import Municipality, School, User
from directory import tasks
from directory.credentials import handover_purge_expired
from directory.models import CredentialHandover
from tests.conftest import login_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def region_schools(db):
    """Schools of region 77 as the import leaves them: accounts without a password."""
    central = Municipality.objects.create(region_id="77", code="003", name="Центральный округ")
    north = Municipality.objects.create(region_id="77", code="004", name="Северный округ")
    School.objects.create(region_id="77", code="1234", name="ГБОУ «Школа № 1234»", municipality=central)
    School.objects.create(region_id="77", code="5601", name="=ГБОУ «Гимназия № 56»", municipality=north)
    School.objects.create(region_id="50", code="0042", name="МБОУ СОШ № 42")
    for login in ["sch771234", "edu771234", "sch775601", "sch500042"]:
        User.objects.create_user(login)  # no usable password


@pytest.fixture
def coordinator(region_schools, make_account):
    return login_client(make_account("reg77_vpr"))


def request_credentials(client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/cabinet/credentials/", {"scope": "without", **data})
    return response


def read_xlsx(data):
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return sheet.to_python()


def download(client, handover):
    return client.post(f"/cabinet/credentials/{handover.pk}/file/")


def test_coordinator_gets_xlsx_once_and_school_must_set_its_own(
    coordinator, django_capture_on_commit_callbacks
):
    response = request_credentials(coordinator, django_capture_on_commit_callbacks)
    handover = CredentialHandover.objects.get()
    assert response.url == f"/cabinet/credentials/{handover.pk}/"
    page = coordinator.get(response.url).content.decode()
    assert "Готов к скачиванию" in page and "Скачать файл с паролями" in page

    xlsx = download(coordinator, handover)
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(xlsx.content)
    assert rows[0] == ["Логин", "Наименование ОО", "Пароль"]
    assert [r[:2] for r in rows[1:]] == [
        ["edu771234", "ГБОУ «Школа № 1234»"],
        ["sch771234", "ГБОУ «Школа № 1234»"],
        ["sch775601", "=ГБОУ «Гимназия № 56»"],  # text, not a formula
    ]
    passwords = {r[0]: r[2] for r in rows[1:]}
    assert len(set(passwords.values())) == 3 and all(len(p) == 12 for p in passwords.values())
    assert set(handover.accounts.values_list("username", flat=True)) == set(passwords)
    assert not User.objects.get(username="sch500042").has_usable_password()  # another region

    handover.refresh_from_db()
    assert handover.status == "downloaded" and not handover.file
    assert "credentials" not in str(list(default_storage.listdir("credentials")[1]))
    assert default_storage.listdir("credentials")[1] == []
    again = coordinator.post(f"/cabinet/credentials/{handover.pk}/file/", follow=True).content.decode()
    assert "Файл уже скачан и удалён" in again

    school = Client()
    assert (
        school.post("/login/", {"username": "sch775601", "password": passwords["sch775601"]}).status_code
        == 302
    )
    assert school.get("/cabinet/").url == "/password/"
    assert User.objects.get(username="sch775601").must_change_password


def test_no_plain_password_in_database_logs_task_args_or_storage(
    coordinator, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    published = []
    real_delay = tasks.make_credentials.delay

    def spy(*args, **kwargs):
        published.append((args, kwargs))
        return real_delay(*args, **kwargs)

    monkeypatch.setattr(tasks.make_credentials, "delay", spy)
    caplog.set_level(logging.DEBUG)
    request_credentials(coordinator, django_capture_on_commit_callbacks)
    handover = CredentialHandover.objects.get()
    assert published == [((handover.pk,), {})]  # the task gets the id only

    with handover.file.open("rb") as stored:
        at_rest = stored.read()
    assert not at_rest.startswith(b"PK")  # sealed, not an .xlsx
    passwords = [r[2] for r in read_xlsx(download(coordinator, handover).content)[1:]]

    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user")
        stored_hashes = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT * FROM directory_credentialhandover")
        handover_row = repr(cursor.fetchall())
    for password in passwords:
        assert password not in stored_hashes
        assert password not in handover_row
        assert password.encode() not in at_rest
        assert password not in caplog.text
        assert password not in repr(published)


def test_without_the_browser_key_the_file_cannot_be_opened(coordinator, django_capture_on_commit_callbacks):
    request_credentials(coordinator, django_capture_on_commit_callbacks)
    handover = CredentialHandover.objects.get()
    other_browser = login_client(handover.coordinator)
    page = download(other_browser, handover)
    assert page.status_code == 302
    assert "Ключ к файлу хранится только в том браузере" in other_browser.get(page.url).content.decode()
    handover.refresh_from_db()
    assert handover.status == "ready" and handover.file  # the right browser still can


def test_file_not_downloaded_in_time_is_deleted(coordinator, django_capture_on_commit_callbacks, settings):
    request_credentials(coordinator, django_capture_on_commit_callbacks)
    handover = CredentialHandover.objects.get()
    name = handover.file.name
    assert (
        handover_purge_expired(now=timezone.now() + timedelta(seconds=settings.CREDENTIALS_FILE_SECONDS + 1))
        == 1
    )
    handover.refresh_from_db()
    assert handover.status == "expired" and not default_storage.exists(name)
    assert (
        "Файл больше не доступен"
        in coordinator.post(f"/cabinet/credentials/{handover.pk}/file/", follow=True).content.decode()
    )


def test_chosen_schools_and_municipality(coordinator, django_capture_on_commit_callbacks):
    request_credentials(coordinator, django_capture_on_commit_callbacks, scope="chosen", codes="5601")
    request_credentials(
        coordinator, django_capture_on_commit_callbacks, scope="municipality", municipality="003"
    )
    first, second = CredentialHandover.objects.order_by("pk")
    assert list(first.accounts.values_list("username", flat=True)) == ["sch775601"]
    assert sorted(second.accounts.values_list("username", flat=True)) == ["edu771234", "sch771234"]


def test_refusals_store_nothing(coordinator, django_capture_on_commit_callbacks):
    page = request_credentials(
        coordinator, django_capture_on_commit_callbacks, scope="chosen", codes="0042 9999"
    )
    assert "Нет ваших ОО с кодами: 0042, 9999." in page.content.decode()
    assert not CredentialHandover.objects.exists()
    assert not any(
        User.objects.filter(username__startswith="sch").values_list("must_change_password", flat=True)
    )


def test_who_may_issue(region_schools, make_account, settings, django_capture_on_commit_callbacks):
    school = login_client(User.objects.get(username="sch771234"))
    assert school.get("/cabinet/credentials/").status_code == 404
    municipal = make_account("reg77_vpr_m003")
    client = login_client(municipal)
    assert client.get("/cabinet/credentials/").status_code == 404
    assert "Реквизиты доступа" not in client.get("/cabinet/accounts/").content.decode()
    settings.CREDENTIALS_MUNICIPAL = True
    request_credentials(client, django_capture_on_commit_callbacks)
    handover = CredentialHandover.objects.get()
    assert sorted(handover.accounts.values_list("username", flat=True)) == ["edu771234", "sch771234"]
    assert login_client(make_account("niko_77")).get("/cabinet/credentials/").status_code == 404


def test_handover_is_visible_to_staff(coordinator, django_capture_on_commit_callbacks, settings):
    settings.STAFF_OTP_REQUIRED = False
    request_credentials(coordinator, django_capture_on_commit_callbacks)
    staff = login_client(User.objects.create_superuser("admin", password="x-correct-horse-1"))
    handover = CredentialHandover.objects.get()
    page = staff.get(f"/admin/directory/credentialhandover/{handover.pk}/change/").content.decode()
    assert "reg77_vpr" in page and "edu771234, sch771234, sch775601" in page
