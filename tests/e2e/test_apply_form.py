"""The request form in a real browser: Enter, the check before the upload, the list of files, the letter."""

import re

from playwright.sync_api import expect

from helpdesk.models import Ticket
from tests.e2e.conftest import E2E
from tests.e2e.test_journeys import fill_apply_form, scan_files

pytestmark = E2E

DONE = re.compile(r"/apply/done/$")


def watch(page):
    """Record the downloads and the POSTs the page makes."""
    seen = {"downloads": [], "posts": []}
    page.on("download", lambda d: seen["downloads"].append(d.suggested_filename))
    page.on("request", lambda r: r.method == "POST" and seen["posts"].append(r.url.split("/", 3)[3]))
    return seen


def chosen_files(page):
    return page.locator("#attachments-list li > span").all_inner_texts()


def test_enter_in_a_field_files_the_request_and_downloads_no_letter(page, tmp_path):
    seen = watch(page)
    fill_apply_form(page)
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_label("Наименование организации").press("Enter")
    expect(page).to_have_url(DONE)
    assert Ticket.objects.get().attachments.count() == 2
    assert seen["downloads"] == []
    assert seen["posts"] == ["apply/check/", "apply/"]


def test_enter_with_a_typo_shows_the_errors_and_downloads_no_letter(page, tmp_path):
    seen = watch(page)
    fill_apply_form(page)
    page.get_by_label("Телефон").fill("8 912")
    page.get_by_label("Телефон").press("Enter")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name=re.compile("^Телефон: Введите номер мобильного"))).to_be_visible()
    assert seen["downloads"] == [] and not Ticket.objects.exists()


def test_a_typo_is_caught_before_the_upload_and_the_chosen_files_stay(page, tmp_path):
    seen = watch(page)
    fill_apply_form(page, login="Sch771234")
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_role("button", name="Отправить заявку").click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # a screen reader reads what is wrong first
    link = summary.get_by_role("link", name="Логин: Логин вводится строчными буквами: sch771234.")
    expect(link).to_be_visible()
    login = page.get_by_label("Логин")
    expect(login).to_have_attribute("aria-invalid", "true")
    described_by = " ".join(
        page.locator(f"[id='{i}']").inner_text() for i in login.get_attribute("aria-describedby").split()
    )
    assert "строчными буквами" in described_by
    assert seen["posts"] == ["apply/check/"]  # the files were not sent
    assert len(chosen_files(page)) == 2
    assert page.evaluate("document.getElementById('id_attachments').files.length") == 2

    link.click()
    expect(login).to_be_focused()
    login.fill("sch771234")
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page).to_have_url(DONE)
    assert Ticket.objects.get().attachments.count() == 2


def test_files_are_added_in_several_goes_and_removed_one_by_one(page, tmp_path):
    pdf, jpeg = scan_files(tmp_path)
    template = tmp_path / "шаблон.docx"
    template.write_bytes(b"PK\x03\x04 not opened by the page")
    fill_apply_form(page)
    attachments = page.get_by_label("Вложения")

    attachments.set_input_files(str(template))
    warning = page.get_by_text("похоже, это неподписанный шаблон письма")
    expect(warning).to_be_visible()  # a hint, not a refusal
    expect(page.get_by_role("button", name="Отправить заявку")).to_be_enabled()
    attachments.set_input_files(str(pdf))
    attachments.set_input_files(str(jpeg))
    expect(warning).to_be_hidden()
    names = [t.split(" — ")[0] for t in chosen_files(page)]
    assert names == ["шаблон.docx", "письмо.pdf", "печать.jpg"]
    expect(page.get_by_text(re.compile(r"Выбрано файлов: 3, .* из 40,0 МБ\."))).to_be_visible()

    page.get_by_role("button", name="Удалить файл шаблон.docx").click()
    assert [t.split(" — ")[0] for t in chosen_files(page)] == ["письмо.pdf", "печать.jpg"]
    expect(page.get_by_role("button", name="Удалить файл письмо.pdf")).to_be_focused()
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page).to_have_url(DONE)
    stored = Ticket.objects.get().attachments.values_list("original_name", flat=True)
    assert sorted(stored) == ["печать.jpg", "письмо.pdf"]


def test_region_is_filled_in_from_the_login(page):
    page.goto("/apply/")
    region = page.get_by_label("Субъект РФ")
    expect(region.locator("option:checked")).to_have_text("— выберите —")
    page.get_by_label("Логин").fill("reg50_vpr_m012")
    expect(region).to_have_value("50")
    page.get_by_label("Логин").fill("sch771234")
    expect(region).to_have_value("77")


def test_blank_letter_downloads_from_the_top_before_anything_is_typed(page):
    page.goto("/apply/")
    steps = page.get_by_test_id("apply-steps")
    with page.expect_download() as download:
        steps.get_by_role("link", name="бланк для организации .pdf").click()
    assert download.value.suggested_filename == "pismo-zamena-parolya-school.pdf"
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"


def test_filled_letter_follows_the_login_and_the_page_keeps_the_files(page, tmp_path):
    fill_apply_form(page, login="reg77_vpr")
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    with page.expect_download() as download:
        page.get_by_role("button", name="Скачать заполненное письмо для печати (.pdf)").click()
    assert download.value.suggested_filename == "pismo-zamena-parolya-coordinator.pdf"
    assert len(chosen_files(page)) == 2
    expect(page.get_by_label("Логин")).to_have_value("reg77_vpr")


def test_form_with_errors_and_chosen_files_passes_axe_on_a_phone(new_page, tmp_path):
    from tests.e2e.test_accessibility import no_horizontal_scroll, serious_violations

    page = new_page(width=360)
    fill_apply_form(page, login="ыср771234")
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_role("link", name=re.compile("переключите раскладку"))).to_be_visible()
    assert serious_violations(page) == []
    assert no_horizontal_scroll(page)
