import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fisoko_portal.uploads import UploadError, clean_name
from helpdesk.models import Attachment, Status, Ticket, TicketEvent
from tests.helpdesk.conftest import PDF, pdf

pytestmark = pytest.mark.django_db

# A tiny valid JPEG header is enough for content sniffing.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


def files_on_disk(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def submit(client, data, files):
    return client.post("/apply/", {**data, "attachments": files})


def test_form_is_labelled_in_russian_with_defaults(client):
    response = client.get("/apply/")
    form = response.context["form"]
    html = response.content.decode()
    for label in [
        "Наименование организации",
        "Информационная система",
        "Субъект РФ",
        "Телефон",
        "E-mail",
        "Тип образовательной организации",
        "Логин",
        "ФИО лица, для которого меняется пароль",
        "Причина замены",
        "Описание",
        "Вложения",
        "Даю согласие на обработку персональных данных",
    ]:
        assert label.lower() in html.lower(), label
    assert form["information_system"].value() == "fis_oko"
    assert form["description"].value() == "Замена пароля"
    assert '<option value="77">77 — г. Москва</option>' in html


def test_valid_submission_files_one_request_one_file_one_email(
    client, valid_data, media_root, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, valid_data, [pdf()])
    assert response.status_code == 302 and response.url == "/apply/done/"

    ticket = Ticket.objects.get()
    assert (ticket.login, ticket.role, ticket.region_id, ticket.phone) == (
        "sch771234",
        "school",
        "77",
        "+79123456789",
    )
    assert ticket.status == Status.NEW
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", ticket.number)
    attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.size, attachment.content_type) == (
        "scan.pdf",
        len(PDF),
        "application/pdf",
    )
    stored = media_root / attachment.file.name
    assert stored.read_bytes() == PDF and "scan" not in stored.name
    assert stored.stat().st_mode & 0o777 == 0o600
    assert files_on_disk(media_root) == [stored.relative_to(media_root)]
    assert TicketEvent.objects.get().to_status == Status.NEW

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"Заявка № {ticket.number} зарегистрирована"
    assert mail.to == ["director@school1234.ru"] and mail.from_email == "servicedesk@fioco.ru"

    page = client.get("/apply/done/").content.decode()
    assert ticket.number in page and "по SMS" in page


def test_several_files_of_different_types_are_kept(client, valid_data):
    response = submit(client, valid_data, [pdf(), SimpleUploadedFile("фото письма.jpg", JPEG)])
    assert response.status_code == 302
    assert sorted(Attachment.objects.values_list("original_name", flat=True)) == [
        "scan.pdf",
        "фото письма.jpg",
    ]


def test_numbers_are_short_readable_and_not_sequential(client, valid_data):
    for _ in range(10):
        submit(client, valid_data, [pdf()])
    numbers = list(Ticket.objects.order_by("pk").values_list("number", flat=True))
    assert all(re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", n) for n in numbers), numbers
    assert len(set(numbers)) == 10
    # Filed one after another, random numbers come out in order once in 10! (3.6 million) runs.
    assert numbers != sorted(numbers)


def assert_refused(response, field, message, media_root):
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in e for e in errors[field]), errors[field]
    assert message in response.content.decode()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()
    assert files_on_disk(media_root) == []


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("login", "school1234", "не соответствует ни одному шаблону"),
        (
            "login",
            "sch501234",
            "Код региона в логине (50) не совпадает с выбранным субъектом РФ (77 — г. Москва)",
        ),
        ("phone", "12345", "Введите номер мобильного телефона в России"),
        ("phone", "+7 495 123-45-67", "Это не мобильный номер"),
        ("email", "director@", "Введите правильный адрес электронной почты."),
        ("consent", "", "Без согласия на обработку персональных данных заявку принять нельзя."),
    ],
    ids=["bad-login-shape", "region-mismatch", "invalid-phone", "landline", "bad-email", "no-consent"],
)
def test_bad_field_is_refused_and_nothing_stored(
    client, valid_data, media_root, mailoutbox, field, value, message
):
    data = {**valid_data, field: value}
    if not value:
        del data[field]
    response = submit(client, data, [pdf()])
    assert_refused(response, field, message, media_root)
    assert mailoutbox == []


def test_login_shape_message_names_the_expected_shapes(client, valid_data, media_root):
    response = submit(client, {**valid_data, "login": "sch77-1234"}, [pdf()])
    assert_refused(response, "login", "regRR_vpr, regRR_vpr_mNNN, niko_RR", media_root)


@pytest.mark.parametrize(
    "typed, message",
    [
        (
            "ыср771234",
            "Логин набран русскими буквами: переключите раскладку клавиатуры на английскую. "
            "Вероятно, ваш логин — sch771234.",
        ),
        ("sсh771234", "переключите раскладку клавиатуры на английскую"),  # a Cyrillic «с»
        ("логин", "В логине есть русские буквы: переключите раскладку клавиатуры на английскую"),
        ("Sch771234", "Логин вводится строчными буквами: sch771234."),
        ("REG77_VPR", "Логин вводится строчными буквами: reg77_vpr."),
        ("sch77 1234", "Уберите пробелы из логина: sch771234."),
    ],
    ids=["russian-layout", "cyrillic-lookalike", "russian-word", "capital-first", "all-capitals", "space"],
)
def test_login_error_says_what_is_wrong(client, valid_data, media_root, typed, message):
    assert_refused(submit(client, {**valid_data, "login": typed}, [pdf()]), "login", message, media_root)


def test_login_field_is_not_capitalized_or_corrected_by_phones(client):
    html = client.get("/apply/").content.decode()
    login = re.search(r'<input[^>]*name="login"[^>]*>', html).group(0)
    for attribute in ['autocapitalize="none"', 'spellcheck="false"', 'autocomplete="username"', "pattern="]:
        assert attribute in login, login


def test_login_pattern_of_the_page_accepts_exactly_what_the_server_does():
    from accounts.logins import HTML_PATTERN, parse_login

    for login in [
        "reg77_vpr",
        "reg50_vpr_m012",
        "niko_24",
        "spo_coord_66",
        "reg16_kko",
        "sch771234",
        "edu2400170",
    ]:
        assert re.fullmatch(HTML_PATTERN, login) and parse_login(login), login
    for login in ["Sch771234", "sch77123", "reg77_vpr_m01", "ыср771234", "sch77 1234"]:
        assert not re.fullmatch(HTML_PATTERN, login) and not parse_login(login), login


def test_empty_region_is_taken_from_the_login(client, valid_data):
    response = submit(client, {**valid_data, "region": "", "login": "reg50_vpr_m012"}, [pdf()])
    assert response.status_code == 302
    assert Ticket.objects.get().region_id == "50"


def test_empty_region_with_a_bad_login_asks_for_either(client, valid_data, media_root):
    response = submit(client, {**valid_data, "region": "", "login": "school"}, [pdf()])
    assert_refused(response, "region", "Выберите субъект РФ или введите логин", media_root)


def test_login_of_an_unknown_region_is_refused_when_the_region_is_left_empty(client, valid_data, media_root):
    response = submit(client, {**valid_data, "region": "", "login": "sch991234"}, [pdf()])
    assert_refused(response, "login", "Код региона в логине (99) не найден среди субъектов РФ.", media_root)


def test_empty_choices_read_choose_and_the_asterisk_is_explained(client):
    html = client.get("/apply/").content.decode()
    assert "---------" not in html
    assert html.count('<option value="" selected>— выберите —</option>') >= 3  # region, type, reason
    assert "Поля, отмеченные звёздочкой" in html


def test_the_form_lets_the_browser_check_the_fields_where_the_script_does_not_run(client):
    html = client.get("/apply/").content.decode()
    form = re.search(r'<form id="apply-form"[^>]*>', html).group(0)
    assert "novalidate" not in form
    assert re.search(r'<input type="tel" name="phone"[^>]*required', html)
    assert re.search(r'<input type="email" name="email"[^>]*required', html)


def test_no_attachment_is_refused(client, valid_data, media_root):
    assert_refused(submit(client, valid_data, []), "attachments", "Приложите скан письма", media_root)


def test_more_than_40_mb_in_total_is_refused(client, valid_data, media_root):
    big = pdf("part1.pdf", PDF + b"\0" * (20 * 1024 * 1024))
    rest = 40 * 1024 * 1024 + 1 - big.size
    response = submit(client, valid_data, [big, pdf("part2.pdf", PDF + b"\0" * (rest - len(PDF)))])
    assert_refused(response, "attachments", "не более 40 МБ в сумме", media_root)


def test_exactly_40_mb_is_accepted(client, valid_data, media_root):
    response = submit(client, valid_data, [pdf("big.pdf", PDF + b"\0" * (40 * 1024 * 1024 - len(PDF)))])
    assert response.status_code == 302
    assert Attachment.objects.get().size == 40 * 1024 * 1024


def test_exe_is_refused(client, valid_data, media_root):
    exe = SimpleUploadedFile("setup.exe", b"MZ\x90\x00" + b"\0" * 200)
    assert_refused(submit(client, valid_data, [exe]), "attachments", "недопустимый тип", media_root)


@pytest.mark.parametrize(
    "header", [b"\x7fELF\x02\x01\x01" + b"\0" * 200, b"MZ\x90\x00\x03" + b"\0" * 60 + b"PE\0\0" + b"\0" * 200]
)
def test_executable_renamed_to_pdf_is_refused(client, valid_data, media_root, header):
    response = submit(client, valid_data, [pdf(), SimpleUploadedFile("scan.pdf", header)])
    assert_refused(response, "attachments", "содержимое не соответствует расширению .pdf", media_root)


def test_file_name_with_path_and_nul_never_reaches_the_disk(client, valid_data, media_root, tmp_path):
    # Django's multipart parser drops the directories and the NUL before the form sees the
    # name; what is kept is a plain name in the row, and the file lies under a random name.
    hostile = SimpleUploadedFile("../../etc/passwd\x00.pdf", PDF)
    assert submit(client, valid_data, [hostile]).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.original_name == "passwd.pdf"
    assert files_on_disk(media_root) == [media_root.joinpath(attachment.file.name).relative_to(media_root)]
    assert re.fullmatch(r"tickets/[0-9a-f]{32}\.pdf", attachment.file.name)
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("name", ["scan\x00.pdf", "../scan.pdf", "dir\\scan.pdf", "..", "  .pdf\x1b"])
def test_hostile_name_reaching_the_checks_is_refused(name):
    with pytest.raises(UploadError, match="Недопустимое имя файла"):
        clean_name(name)


def test_honeypot_filled_by_a_bot_is_refused(client, valid_data, media_root):
    response = submit(client, {**valid_data, "website": "http://spam.example"}, [pdf()])
    assert_refused(response, "website", "Заявка не принята.", media_root)


def test_server_error_summary_links_to_each_refused_field(client, valid_data):
    response = submit(client, {**valid_data, "phone": "123", "login": "Sch771234"}, [pdf()])
    html = unescape(response.content.decode())
    summary = html[html.index('id="error-summary"') : html.index("</ul>", html.index('id="error-summary"'))]
    assert "hidden" not in summary.split(">", 1)[0]
    assert '<a href="#id_login">Логин: Логин вводится строчными буквами: sch771234.</a>' in summary
    assert '<a href="#id_phone">Телефон: Введите номер мобильного телефона в России' in summary


def test_typed_fields_come_back_after_an_error(client, valid_data):
    response = submit(client, {**valid_data, "phone": "123"}, [pdf()])
    html = unescape(response.content.decode())
    assert 'value="ГБОУ «Школа № 1234»"' in html
    assert 'value="director@school1234.ru"' in html and 'value="sch771234"' in html
    assert "приложите их ещё раз" in html


def test_broken_mail_server_still_gives_the_success_page(
    client, valid_data, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.helpdesk.failing_mail.FailingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, valid_data, [pdf()])
    assert response.status_code == 302 and response.url == "/apply/done/"
    ticket = Ticket.objects.get()
    assert ticket.number in client.get("/apply/done/").content.decode()
    assert Attachment.objects.filter(ticket=ticket).count() == 1


def test_done_page_without_a_submission_goes_to_the_form(client):
    assert client.get("/apply/done/").url == "/apply/"


def test_form_is_throttled_per_address(client, valid_data, settings, media_root):
    settings.HELPDESK_APPLY_RATE = (2, 3600)
    for _ in range(2):
        assert submit(client, valid_data, [pdf()]).status_code == 302
    response = submit(client, valid_data, [pdf()])
    assert response.status_code == 429
    page = response.content.decode()
    assert "Слишком много запросов" in page and "подано слишком много заявок" in page
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Ticket.objects.count() == 2 and len(files_on_disk(media_root)) == 2
    other = client.post("/apply/", {**valid_data, "attachments": [pdf()]}, REMOTE_ADDR="10.0.0.2")
    assert other.status_code == 302


def test_refused_posts_do_not_spend_the_filed_requests_budget(client, valid_data, settings):
    # A school behind a shared address corrects its form several times: only what is filed counts.
    settings.HELPDESK_APPLY_RATE = (2, 3600)
    for _ in range(5):
        response = submit(client, {**valid_data, "phone": "1"}, [pdf()])
        assert response.status_code == 200 and "телефон" in response.content.decode().lower()
    for _ in range(2):
        assert submit(client, valid_data, [pdf()]).status_code == 302
    assert Ticket.objects.count() == 2


def test_posts_of_any_kind_are_capped_against_floods(client, valid_data, settings, media_root):
    settings.HELPDESK_APPLY_POST_RATE = (3, 3600)
    for _ in range(3):
        assert submit(client, {**valid_data, "phone": "1"}, [pdf()]).status_code == 200
    response = submit(client, valid_data, [pdf()])
    assert response.status_code == 429
    assert "поступило слишком много запросов" in response.content.decode()
    html = response.content.decode()
    minutes = int(re.search(r"Повторите попытку через\s+(\d+) мин\.", html).group(1))
    assert 1 <= minutes <= 60 and 0 < int(response["Retry-After"]) <= 3601
    assert not Ticket.objects.exists() and files_on_disk(media_root) == []


def test_default_limits_leave_room_for_schools_behind_one_address():
    from fisoko_portal import settings as production

    filed, window = production.HELPDESK_APPLY_RATE
    posts, post_window = production.HELPDESK_APPLY_POST_RATE
    assert window == post_window == 3600
    assert filed >= 60  # about the whole country's peak hour
    assert posts >= 10 * filed


def test_form_page_and_a_valid_submission_run_a_bounded_number_of_queries(
    client, valid_data, django_assert_max_num_queries
):
    with django_assert_max_num_queries(1):  # the regions of the choice
        assert client.get("/apply/").status_code == 200
    # The region (twice: the choice, the model's check), the request, its file, event, the count of
    # the day's confirmations to its address and the email in one transaction, the session that
    # carries the number to the success page; savepoints count too.
    with django_assert_max_num_queries(15):
        assert submit(client, valid_data, [pdf()]).status_code == 302
