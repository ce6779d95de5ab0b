"""The journeys of SPEC §1 in a real browser, acting only through what a person sees."""

import io
import re

import docx
from django.contrib.auth.models import Group
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from accounts.models import User
from helpdesk.models import Status, Ticket
from tests.conftest import PASSWORD
from tests.e2e.conftest import E2E, screenshot, sms_password

pytestmark = E2E

INVALID = "Неверный логин или пароль"


def log_in(page, login, password):
    page.goto("/login/")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()


def scan_files(tmp_path):
    """A scanned letter as a real PDF and as a JPEG."""
    letter = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(letter)
    draw.rectangle([120, 120, 1120, 320], outline="black", width=8)
    draw.ellipse([800, 1400, 1100, 1700], outline="navy", width=10)  # the stamp
    pdf, jpeg = tmp_path / "письмо.pdf", tmp_path / "печать.jpg"
    letter.save(pdf)
    letter.save(jpeg, quality=80)
    return pdf, jpeg


def fill_apply_form(page, login="sch771234"):
    page.goto("/apply/")
    page.get_by_label("Наименование организации").fill("ГБОУ «Школа № 1234»")
    page.get_by_label("Субъект РФ").select_option(label="77 — г. Москва")
    page.get_by_label("Телефон").fill("+7 912 345-67-89")
    page.get_by_label("E-mail").fill("director@school1234.ru")
    page.get_by_label("Тип образовательной организации").select_option(
        label="Общеобразовательная организация"
    )
    page.get_by_label("Логин").fill(login)
    page.get_by_label("ФИО лица, для которого меняется пароль").fill("Иванова Мария Петровна")
    page.get_by_label("ФИО руководителя организации").fill("Петров Пётр Петрович")
    page.get_by_label("Причина замены").select_option(label="Утеря пароля")


def file_request(page, tmp_path):
    fill_apply_form(page)
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page.get_by_role("heading", name="Заявка зарегистрирована")).to_be_visible()
    return page.get_by_test_id("ticket-number").inner_text()


def operator_page(new_page):
    operator = User.objects.create_user("operator", password=PASSWORD, is_staff=True)
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    page = new_page()
    page.goto("/admin/")
    page.get_by_label("Имя пользователя").fill("operator")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    return page


def open_request(page, number):
    page.goto("/admin/helpdesk/ticket/")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=f"Заявка № {number}")).to_be_visible()


def test_school_logs_in_opens_every_tab_and_logs_out(page, make_account):
    make_account("sch771234")
    log_in(page, "sch771234", PASSWORD)
    expect(page.get_by_test_id("current-login")).to_have_text("sch771234")
    screenshot(page, "cabinet")
    nav = page.get_by_role("navigation", name="Разделы личного кабинета")
    names = nav.get_by_role("link").all_inner_texts()
    assert names == ["Главная", "Ход ВПР", "ФГККО", "Аналитика", "Моя организация", "Техническая поддержка"]
    for name in names:
        nav.get_by_role("link", name=name).click()
        expect(nav.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
        expect(page.get_by_test_id("current-login")).to_have_text("sch771234")
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_role("heading", name="Вход в личный кабинет")).to_be_visible()
    page.goto("/cabinet/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/cabinet/$"))


def test_wrong_password_then_five_failures_lock_the_login(page, make_account):
    make_account("sch771234")
    page.goto("/login/")
    screenshot(page, "login")
    log_in(page, "sch771234", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text(INVALID)
    for _ in range(4):
        log_in(page, "sch771234", "not-the-password")
    expect(page.get_by_role("heading", name="Вход временно заблокирован")).to_be_visible()
    log_in(page, "sch771234", PASSWORD)
    expect(page.get_by_role("heading", name="Вход временно заблокирован")).to_be_visible()
    expect(page.get_by_test_id("current-login")).to_have_count(0)


def test_organizer_files_a_request_and_checks_its_status(page, tmp_path, mailoutbox):
    fill_apply_form(page)
    screenshot(page, "apply")
    with page.expect_download() as download:
        page.get_by_role("button", name="Скачать заполненное письмо (.docx)").click()
    letter = docx.Document(io.BytesIO(open(download.value.path(), "rb").read()))
    text = "\n".join(p.text for p in letter.paragraphs)
    assert "Просим заменить пароль" in text and "sch771234" in text and "Петров Пётр Петрович" in text
    assert "Иванова Мария Петровна" in text  # whose password is replaced

    widths = []
    page.expose_function("reportProgress", lambda width: widths.append(width))
    page.evaluate(
        """() => {
          const bar = document.querySelector('#upload-progress .progress-bar');
          new MutationObserver(() => window.reportProgress(bar.style.width))
            .observe(bar, {attributes: true, attributeFilter: ['style']});
        }"""
    )
    page.get_by_label("Вложения").set_input_files(list(scan_files(tmp_path)))
    expect(page.get_by_text(re.compile(r"Выбрано файлов: 2, .* из 40,0 МБ\."))).to_be_visible()
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page.get_by_role("heading", name="Заявка зарегистрирована")).to_be_visible()
    screenshot(page, "success")
    number = page.get_by_test_id("ticket-number").inner_text()
    assert widths and widths[-1] == "100%", widths
    assert Ticket.objects.get(number=number).attachments.count() == 2
    assert [m.subject for m in mailoutbox] == [f"Заявка № {number} зарегистрирована"]

    page.get_by_role("link", name="проверить статус").click()
    page.get_by_label("Номер заявки").fill(number)
    page.get_by_label("E-mail, указанный в заявке").fill("director@school1234.ru")
    page.get_by_role("button", name="Проверить").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("Новая")


def test_bad_input_is_refused_in_the_browser_and_typed_fields_stay(page, tmp_path):
    fill_apply_form(page, login="school-1234")
    big = tmp_path / "скан.pdf"
    with open(big, "wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(41 * 1024 * 1024)
    page.get_by_label("Вложения").set_input_files(str(big))
    expect(page.get_by_text("41,0 МБ из 40,0 МБ. Превышен допустимый размер")).to_be_visible()
    expect(page.get_by_role("button", name="Отправить заявку")).to_be_disabled()

    pdf, _ = scan_files(tmp_path)
    page.get_by_role("button", name="Удалить файл скан.pdf").click()
    page.get_by_label("Вложения").set_input_files(str(pdf))
    expect(page.get_by_role("button", name="Отправить заявку")).to_be_enabled()
    page.get_by_label("Даю согласие на обработку персональных данных").check()
    page.get_by_role("button", name="Отправить заявку").click()

    login = page.get_by_label("Логин")
    expect(login).to_have_attribute("aria-invalid", "true")
    described_by = " ".join(
        page.locator(f"[id='{i}']").inner_text() for i in login.get_attribute("aria-describedby").split()
    )
    assert "не соответствует ни одному шаблону" in described_by
    expect(login).to_have_value("school-1234")
    expect(page.get_by_label("Наименование организации")).to_have_value("ГБОУ «Школа № 1234»")
    expect(page.get_by_label("E-mail")).to_have_value("director@school1234.ru")
    expect(page.get_by_label("Телефон")).to_have_value("+7 912 345-67-89")
    assert page.evaluate("document.getElementById('id_attachments').files.length") == 1  # still chosen
    assert not Ticket.objects.exists()


def test_operator_issues_a_password_and_the_school_sets_its_own(new_page, make_account, tmp_path):
    make_account("sch771234")
    number = file_request(new_page(), tmp_path)

    staff = operator_page(new_page)
    open_request(staff, number)
    preview = staff.get_by_role("img", name="Просмотр: письмо.pdf")
    expect(preview).to_be_visible()
    staff.wait_for_function(  # the preview is rendered on request: wait for it to arrive
        "() => { const img = document.querySelector('img[alt^=\"Просмотр\"]');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    screenshot(staff, "admin-request")
    staff.get_by_role("link", name="Выдать новый пароль").click()
    expect(staff.get_by_test_id("confirm-login")).to_have_text("sch771234")
    staff.get_by_role("button", name="Подтвердить").click()
    expect(staff.get_by_text(f"Заявка № {number} выполнена")).to_be_visible()

    school = new_page()
    log_in(school, "sch771234", sms_password())
    expect(school.get_by_role("heading", name="Задайте свой пароль")).to_be_visible()
    school.get_by_label("Новый пароль").fill("Своя-надёжная-фраза-2026")
    school.get_by_label("Подтверждение нового пароля").fill("Своя-надёжная-фраза-2026")
    school.get_by_role("button", name="Сохранить пароль").click()
    expect(school.get_by_test_id("current-login")).to_have_text("sch771234")
    expect(school.get_by_role("heading", name="Личный кабинет")).to_be_visible()


def test_operator_rejects_and_the_status_page_shows_the_reason(new_page, make_account, tmp_path, mailoutbox):
    number = file_request(new_page(), tmp_path)
    staff = operator_page(new_page)
    open_request(staff, number)
    staff.get_by_role("link", name="Отклонить").click()
    staff.get_by_label("Причина отклонения").fill("На скане письма нет печати организации")
    staff.get_by_role("button", name="Отклонить заявку").click()
    expect(staff.get_by_text(f"Заявка № {number} отклонена.")).to_be_visible()
    assert Ticket.objects.get(number=number).status == Status.REJECTED

    requester = new_page()
    requester.goto("/apply/status/")
    requester.get_by_label("Номер заявки").fill(number)
    requester.get_by_label("E-mail, указанный в заявке").fill("director@school1234.ru")
    requester.get_by_role("button", name="Проверить").click()
    expect(requester.get_by_test_id("ticket-status")).to_have_text("Отклонена")
    expect(requester.get_by_text("На скане письма нет печати организации")).to_be_visible()
