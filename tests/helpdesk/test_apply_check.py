"""/apply/check/: the fields, and the chosen files by name and size, checked before any file is sent."""

import pytest

from helpdesk.models import Attachment, Ticket
from tests.helpdesk.conftest import pdf

pytestmark = pytest.mark.django_db


def check(client, data, files=(("scan.pdf", 1000),), **extra):
    names = [name for name, _ in files]
    sizes = [str(size) for _, size in files]
    return client.post("/apply/check/", {**data, "attachment_name": names, "attachment_size": sizes}, **extra)


def nothing_stored(media_root):
    return not Ticket.objects.exists() and not Attachment.objects.exists() and not any(media_root.rglob("*"))


def test_right_fields_and_files_pass_and_nothing_is_stored(client, valid_data, media_root, mailoutbox):
    response = check(client, valid_data)
    assert response.status_code == 200
    assert response.json() == {"errors": {}}
    assert nothing_stored(media_root) and mailoutbox == []


def test_typos_are_refused_with_the_forms_russian_messages(client, valid_data, media_root):
    response = check(client, {**valid_data, "phone": "8 912", "login": "ыср771234", "email": "director@"})
    errors = response.json()["errors"]
    assert errors["phone"] == ["Введите номер мобильного телефона в России, например +7 912 345-67-89."]
    assert errors["login"] == [
        "Логин набран русскими буквами: переключите раскладку клавиатуры на английскую. "
        "Вероятно, ваш логин — sch771234."
    ]
    assert errors["email"] == ["Введите правильный адрес электронной почты."]
    assert "attachments" not in errors
    assert nothing_stored(media_root)


def test_no_file_chosen_is_refused(client, valid_data, media_root):
    errors = check(client, valid_data, files=()).json()["errors"]
    assert errors == {"attachments": ["Приложите скан письма-заявки на замену пароля."]}


def test_files_over_40_mb_in_total_are_refused_before_the_upload(client, valid_data):
    errors = check(
        client, valid_data, files=(("a.pdf", 30 * 1024 * 1024), ("b.jpg", 11 * 1024 * 1024))
    ).json()
    assert errors["errors"]["attachments"] == [
        "Вложения занимают 41,0\xa0МБ, а можно не более 40 МБ в сумме."
    ]


def test_a_file_of_a_forbidden_type_is_refused_by_its_name(client, valid_data):
    errors = check(client, valid_data, files=(("scan.pdf", 10), ("setup.exe", 10))).json()["errors"]
    assert errors["attachments"] == [
        "Файл «setup.exe»: недопустимый тип. "
        "Разрешены: png, gif, jpeg, jpg, pdf, doc, docx, zip, rar, xls, xlsx."
    ]


def test_region_left_empty_is_taken_from_the_login_by_the_check_too(client, valid_data):
    assert check(client, {**valid_data, "region": ""}).json() == {"errors": {}}


def test_check_is_throttled_per_address_and_says_when_to_try_again(client, valid_data, settings):
    settings.HELPDESK_APPLY_POST_RATE = (2, 3600)  # checks count against the posts cap
    for _ in range(2):
        assert check(client, valid_data).status_code == 200
    response = check(client, valid_data)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3601
    assert "Повторите попытку через" in response.content.decode()
    assert check(client, valid_data, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_check_is_post_only(client):
    assert client.get("/apply/check/").status_code == 405


def test_the_scripts_submission_gets_its_refusal_as_json_and_nothing_is_stored(
    client, valid_data, media_root
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    exe = SimpleUploadedFile("scan.pdf", b"MZ\x90\x00" + b"\0" * 200)
    response = client.post(
        "/apply/", {**valid_data, "attachments": [exe]}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"]["attachments"] == [
        "Файл «scan.pdf»: содержимое не соответствует расширению .pdf."
    ]
    assert nothing_stored(media_root)
    assert client.post("/apply/", {**valid_data, "attachments": [pdf()]}).status_code == 302
