"""SPEC §9 in a browser: staff import the directory, a regional coordinator hands out access,
and a school logs in with its password from the .xlsx and is made to set its own."""

import io

from playwright.sync_api import expect
from python_calamine import CalamineWorkbook

from accounts.models import User
from tests.conftest import PASSWORD
from tests.directory.conftest import csv_bytes
from tests.e2e.conftest import E2E, screenshot
from tests.e2e.test_journeys import log_in

pytestmark = E2E


def test_import_through_admin_then_credentials_then_first_login(new_page, make_account, tmp_path):
    User.objects.create_superuser("admin", password=PASSWORD)
    staff = new_page()
    staff.goto("/admin/")
    staff.get_by_label("Имя пользователя").fill("admin")
    staff.get_by_label("Пароль").fill(PASSWORD)
    staff.get_by_role("button", name="Войти").click()

    directory = tmp_path / "справочник.csv"
    directory.write_bytes(csv_bytes())
    staff.goto("/admin/directory/directoryimport/add/")
    staff.get_by_label("Файл справочника").set_input_files(str(directory))
    staff.get_by_role("button", name="Загрузить и проверить").click()
    expect(staff.get_by_role("heading", name="Предпросмотр: строк в файле 3")).to_be_visible()
    screenshot(staff, "directory-preview")
    staff.get_by_role("button", name="Подтвердить импорт").click()
    expect(staff.get_by_test_id("import-status")).to_have_text("Выполнен")
    expect(staff.get_by_role("heading", name="Отчёт: строк в файле 3")).to_be_visible()

    make_account("reg77_vpr")
    coordinator = new_page()
    log_in(coordinator, "reg77_vpr", PASSWORD)
    coordinator.get_by_role("link", name="Учётные записи").click()
    coordinator.get_by_role("link", name="Реквизиты доступа").click()
    coordinator.get_by_label("Выбранным ОО").check()
    coordinator.get_by_label("Коды ОО").fill("1234")
    coordinator.get_by_role("button", name="Выдать реквизиты").click()
    expect(coordinator.get_by_test_id("handover-status")).to_have_text("Готов к скачиванию")
    with coordinator.expect_download() as download_info:
        coordinator.get_by_role("button", name="Скачать файл с паролями").click()
    rows = CalamineWorkbook.from_filelike(io.BytesIO(open(download_info.value.path(), "rb").read()))
    rows = rows.get_sheet_by_index(0).to_python()
    password = {row[0]: row[2] for row in rows[1:]}["sch771234"]
    assert [row[0] for row in rows[1:]] == ["edu771234", "sch771234"]

    school = new_page()
    log_in(school, "sch771234", password)
    expect(school.get_by_role("heading", name="Задайте свой пароль")).to_be_visible()
    school.get_by_label("Новый пароль").fill("Своя-надёжная-фраза-2026")
    school.get_by_label("Подтверждение нового пароля").fill("Своя-надёжная-фраза-2026")
    school.get_by_role("button", name="Сохранить пароль").click()
    expect(school.get_by_test_id("current-login")).to_have_text("sch771234")
    expect(school.get_by_role("heading", name="Личный кабинет")).to_be_visible()
