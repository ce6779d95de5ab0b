"""Results in a real browser: the demo school downloads its form, fills it (with openpyxl, as a
person would in Excel), uploads it and reads its results in «Аналитика»; a wrong form is refused
with its errors by row and column; the coordinator's reports, at a desktop and a phone's width."""

import io

from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.models import Municipality, School
from demo.procedures import seed_procedures, seed_results
from tests.conftest import PASSWORD
from tests.e2e.conftest import E2E, screenshot
from tests.e2e.test_accessibility import serious_violations
from tests.e2e.test_journeys import log_in
from tests.e2e.test_procedures import open_tab

pytestmark = E2E


def seed(make_account):
    municipality = Municipality.objects.create(region_id="77", code="003", name="Центральный округ")
    School.objects.create(region_id="77", code="1234", name="ГБОУ «Школа № 1234»", municipality=municipality)
    School.objects.create(region_id="77", code="0017", name="ГБОУ «Лицей № 17»", municipality=municipality)
    School.objects.create(region_id="77", code="5601", name="ГБОУ «Гимназия № 56»", municipality=municipality)
    for login in ["sch771234", "sch770017", "sch775601", "reg77_vpr"]:
        make_account(login)
    seed_results(seed_procedures(), generated=40)


def filled(path, rows, edit=None):
    path.seek(0)
    book = load_workbook(path)
    sheet = book.worksheets[0]
    for n, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=4):
            sheet.cell(row=n, column=column, value=value)
    if edit:
        edit(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(page, data):
    page.get_by_label("Заполненная форма (.xlsx)").set_input_files(
        files=[{"name": "results.xlsx", "mimeType": "application/octet-stream", "buffer": data}]
    )
    page.get_by_role("button", name="Загрузить результаты").click()


def test_school_uploads_its_form_and_reads_its_results(new_page, make_account):
    seed(make_account)
    page = new_page()
    log_in(page, "sch775601", PASSWORD)
    open_tab(page, "Ход ВПР")
    page.get_by_role("link", name="Загрузить результаты").click()
    expect(page.get_by_text("и русская «Х», и латинская «X»")).to_be_visible()
    with page.expect_download() as caught:
        page.get_by_role("link", name="Скачайте форму сбора результатов").click()
    form = io.BytesIO(caught.value.path().read_bytes())
    header = [c.value for c in load_workbook(form).worksheets[0][1]]
    assert header == [
        "Код участника",
        "Класс",
        "Вариант",
        "1",
        "2",
        "3",
        "4(1)",
        "5",
        "6",
        "Пол",
        "Отметка по журналу",
    ]

    # MA5: tasks with maxima 1, 1, 1, 2, 2, 2; marks from 4, 6, 8 points.
    wrong = [[1, 1, 1, 3, 2, 2, "М", 5], [1, "один", 1, 1, 1, 1, "Ж", 4], [1, 1, 1, 1, 1, 1, None, 4]]
    upload(page, filled(form, wrong))
    errors = page.locator(".results-errors")
    expect(errors).to_contain_text("Файл не принят, ничего не сохранено.")
    expect(errors).to_contain_text("строка 2, столбец «4(1)»: 3 больше максимума 2")
    expect(errors).to_contain_text("строка 3, столбец «2»: «один» — не целое число")
    expect(errors).to_contain_text("строка 4, столбец «Пол»: не заполнен")
    screenshot(page, "results-errors")
    found = {"errors": serious_violations(page)}

    rows = [[1, 1, 1, 2, 2, 2, "М", 5], [1, 0, "Х", 1, 1, 0, "Ж", 4], [0, "X", 0, 1, 0, 1, "Ж", 3]]
    rows += [[1, 1, 0, 2, 1, 1, "М", 4]] * 8
    upload(page, filled(form, rows))
    expect(page.get_by_text("Результаты приняты: выполняли работу 11, отсутствовали 1.")).to_be_visible()
    screenshot(page, "results-upload")

    open_tab(page, "Аналитика")
    page.get_by_label("Процедура и работа").select_option(label="MA5: Математика, 5 класс")
    page.get_by_role("button", name="Показать").click()
    marks = page.locator(".results-marks")
    # 9 points: «5»; 3 and 2 points: «2»; 6 points ×8: «4».
    expect(marks.get_by_role("row", name="ОО 775601")).to_contain_text("11")
    expect(marks.get_by_role("row", name="ОО 775601")).to_contain_text("72,7")
    expect(page.locator("svg.results-chart")).to_be_visible()
    screenshot(page, "analytics-school")
    found["analytics"] = serious_violations(page)

    phone = new_page(width=360, height=780)
    log_in(phone, "sch775601", PASSWORD)
    phone.goto(page.url)
    expect(phone.locator("svg.results-chart")).to_be_visible()
    assert phone.locator("svg.results-chart").bounding_box()["width"] <= 360
    screenshot(phone, "analytics-school-360")

    coordinator = new_page()
    log_in(coordinator, "reg77_vpr", PASSWORD)
    coordinator.goto(page.url.replace("/analytics/", "/analytics/schools/") + "&sort=share_5&dir=desc")
    expect(coordinator.get_by_role("heading", name="ОО по отдельности")).to_be_visible()
    expect(coordinator.get_by_role("row", name="ГБОУ «Гимназия № 56»")).to_be_visible()
    screenshot(coordinator, "analytics-schools")
    found["schools"] = serious_violations(coordinator)
    coordinator.get_by_role("link", name="← Аналитика").click()
    coordinator.get_by_role("link", name="Признаки необъективности").click()
    expect(coordinator.locator(".bias-rule")).to_contain_text("ОО попадает в список, если")
    screenshot(coordinator, "analytics-bias")
    found["bias"] = serious_violations(coordinator)
    assert not any(found.values()), found
