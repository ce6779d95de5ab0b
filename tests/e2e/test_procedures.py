"""The assessment cycle in a real browser: a school applies and downloads its archive; its
municipal coordinator sees it in «Ход работы ОО» and downloads the table."""

import io
import zipfile

from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.models import Municipality, School
from demo.procedures import seed_procedures
from tests.conftest import PASSWORD
from tests.e2e.conftest import E2E, screenshot
from tests.e2e.test_accessibility import serious_violations
from tests.e2e.test_journeys import log_in

pytestmark = E2E


def open_tab(page, name):
    page.get_by_role("navigation", name="Разделы личного кабинета").get_by_role("link", name=name).click()


def seed(make_account):
    municipality = Municipality.objects.create(region_id="77", code="003", name="Центральный округ")
    School.objects.create(region_id="77", code="1234", name="ГБОУ «Школа № 1234»", municipality=municipality)
    School.objects.create(region_id="77", code="0017", name="ГБОУ «Лицей № 17»", municipality=municipality)
    for login in ["sch771234", "sch770017", "reg77_vpr_m003"]:
        make_account(login)
    return seed_procedures()


def test_school_applies_and_downloads_its_archive_then_its_coordinator_sees_it(new_page, make_account):
    seed(make_account)
    page = new_page()
    log_in(page, "sch771234", PASSWORD)
    page.get_by_role("navigation", name="Разделы личного кабинета").get_by_role(
        "link", name="Ход ВПР"
    ).click()
    expect(page.get_by_role("heading", name="План-график")).to_be_visible()
    expect(page.get_by_text("Время московское (МСК, UTC+3)")).to_be_visible()
    expect(page.get_by_text("Ваш ближайший срок")).to_be_visible()
    expect(page.get_by_text("Заявка не подана.")).to_be_visible()
    screenshot(page, "procedure-tab")
    found = {"tab": serious_violations(page)}

    page.get_by_role("link", name="Заявка на участие").click()
    page.get_by_label("Математика, 5 класс", exact=True).check()
    page.get_by_label("Участников: Математика, 5 класс").fill("600")
    page.get_by_label("Дата проведения: Математика, 5 класс").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Сохранить заявку").click()
    expect(page.get_by_text("Число участников — целое число от 1 до 500.")).to_be_visible()
    page.get_by_label("Участников: Математика, 5 класс").fill("25")
    page.get_by_role("button", name="Сохранить заявку").click()
    expect(page.get_by_text("Заявка сохранена.")).to_be_visible()
    expect(page.get_by_role("cell", name="sch771234")).to_be_visible()
    screenshot(page, "application")
    found["application"] = serious_violations(page)

    page.get_by_role("link", name="← Назад").click()
    expect(page.get_by_text("Заявка подана: работ 1, участников 25.")).to_be_visible()
    with page.expect_download() as caught:
        page.get_by_role("link", name="Скачать архив").click()
    archive = zipfile.ZipFile(caught.value.path())
    names = archive.namelist()
    assert "Коды участников.docx" in names and "Протокол проведения.docx" in names
    assert len([n for n in names if n.startswith("Варианты/")]) == 2

    coordinator = new_page()
    log_in(coordinator, "reg77_vpr_m003", PASSWORD)
    coordinator.get_by_role("navigation", name="Разделы личного кабинета").get_by_role(
        "link", name="Ход ВПР"
    ).click()
    coordinator.get_by_role("link", name="Ход работы ОО").click()
    expect(coordinator.get_by_text("Подали заявку: 2 из 2")).to_be_visible()
    expect(coordinator.get_by_text("Скачали архив: 1 из 2")).to_be_visible()
    expect(coordinator.get_by_role("link", name="771234")).to_be_visible()
    screenshot(coordinator, "progress")
    found["progress"] = serious_violations(coordinator)
    coordinator.get_by_label("Показать").select_option(label="не скачали архив")
    coordinator.get_by_role("button", name="Показать").click()
    expect(coordinator.get_by_role("link", name="770017")).to_be_visible()
    expect(coordinator.get_by_role("link", name="771234")).to_have_count(0)
    with coordinator.expect_download() as caught:
        coordinator.get_by_role("link", name="Скачать таблицу (.xlsx)").click()
    with open(caught.value.path(), "rb") as handle:
        rows = list(load_workbook(io.BytesIO(handle.read())).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["770017"]
    assert {name: v for name, v in found.items() if v} == {}
