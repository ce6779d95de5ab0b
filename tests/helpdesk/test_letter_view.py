import io
import re

import docx
import pytest

from tests.helpdesk.test_letter import pdf_text

pytestmark = pytest.mark.django_db


def text_of(response):
    document = docx.Document(io.BytesIO(response.content))
    return "\n".join(p.text for p in document.paragraphs)


@pytest.mark.parametrize(
    "login, variant, letterhead",
    [
        ("sch771234", "school", "Бланк образовательной организации"),
        ("reg77_vpr", "coordinator", "Бланк органа исполнительной власти"),
    ],
)
def test_letter_is_prefilled_with_what_was_typed(client, login, variant, letterhead):
    response = client.post(
        "/apply/letter/",
        {
            "login": login,
            "reason": "lost",
            "organization_name": "ГБОУ «Школа № 1234»",
            "head_name": "Петров Пётр Петрович",
            "email": "director@school1234.ru",
            "phone": "+7 912 345-67-89",
        },
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="pismo-zamena-parolya-{variant}.docx"'
    text = text_of(response)
    assert "Просим заменить пароль" in text and letterhead in text
    assert f"для логина: {login} в связи с утерей пароля" in text
    for typed in [
        "ГБОУ «Школа № 1234»",
        "Петров Пётр Петрович",
        "director@school1234.ru",
        "+7 912 345-67-89",
    ]:
        assert typed in text


def test_letter_with_nothing_typed_has_blank_lines(client):
    text = text_of(client.post("/apply/letter/", {"variant": "school"}))
    assert "Просим заменить пароль" in text and "____" in text and "None" not in text


def test_apply_page_offers_blank_letters_at_the_top_and_filled_ones_by_buttons_enter_never_presses(client):
    html = client.get("/apply/").content.decode()
    top = html[: html.index('<form id="apply-form"')]
    for variant in ("school", "coordinator"):
        for fmt in ("docx", "pdf"):
            assert f'href="/apply/letter/?variant={variant}&amp;format={fmt}"' in top
    form = html[html.index('<form id="apply-form"') : html.index("</form>")]
    submits = re.findall(r'<button type="submit"[^>]*>([^<]*)<', form)
    assert submits == ["Отправить заявку"]  # the form's only, so its default
    assert "formaction" not in form
    assert 'type="button" class="btn btn-outline-secondary btn-sm mb-1" data-letter-format="docx"' in form
    steps = re.findall(r"<li><strong>([^<]*)</strong>", top)
    assert steps == [
        "Подготовьте письмо-заявку.",
        "Подпишите и поставьте печать.",
        "Отсканируйте или сфотографируйте",
        "Подайте заявку:",
    ]


@pytest.mark.parametrize(
    "variant, fmt, letterhead",
    [
        ("school", "docx", "Бланк образовательной организации"),
        ("coordinator", "docx", "Бланк органа исполнительной власти"),
        ("school", "pdf", "Бланк образовательной организации"),
        ("coordinator", "pdf", "Бланк органа исполнительной власти"),
    ],
)
def test_blank_letter_downloads_before_anything_is_typed(client, variant, fmt, letterhead):
    response = client.get("/apply/letter/", {"variant": variant, "format": fmt})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="pismo-zamena-parolya-{variant}.{fmt}"'
    text = text_of(response) if fmt == "docx" else pdf_text(response.content)
    assert letterhead in text and "____" in text


@pytest.mark.parametrize(
    "login, letterhead",
    [("reg77_vpr", "Бланк органа исполнительной власти"), ("sch771234", "Бланк образовательной организации")],
)
def test_filled_letter_takes_its_variant_from_the_logins_role(client, login, letterhead):
    # The page's button posts no variant; an old or forged one is overruled by the login.
    response = client.post("/apply/letter/", {"variant": "school", "login": login, "format": "pdf"})
    assert response["Content-Type"] == "application/pdf"
    assert letterhead in pdf_text(response.content)


def test_filled_letter_carries_the_person_whose_password_is_replaced(client):
    response = client.post("/apply/letter/", {"login": "sch771234", "person_name": "Иванова Мария Петровна"})
    assert "для которого меняется пароль: Иванова Мария Петровна" in text_of(response)


def test_letter_template_is_throttled_per_address(client, settings):
    settings.HELPDESK_LETTER_RATE = (2, 3600)
    for _ in range(2):
        assert client.post("/apply/letter/", {"variant": "school"}).status_code == 200
    response = client.post("/apply/letter/", {"variant": "school"})
    assert response.status_code == 429
    assert "Слишком много запросов" in response.content.decode()
    assert client.post("/apply/letter/", {"variant": "school"}, REMOTE_ADDR="10.0.0.2").status_code == 200
