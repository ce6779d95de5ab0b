import io

import docx
import pytest

pytestmark = pytest.mark.django_db


def text_of(response):
    document = docx.Document(io.BytesIO(response.content))
    return "\n".join(p.text for p in document.paragraphs)


@pytest.mark.parametrize(
    "variant, letterhead",
    [("school", "Бланк образовательной организации"), ("coordinator", "Бланк органа исполнительной власти")],
)
def test_letter_is_prefilled_with_what_was_typed(client, variant, letterhead):
    response = client.post(
        "/apply/letter/",
        {
            "variant": variant,
            "login": "sch771234",
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
    assert "для логина: sch771234 в связи с утерей пароля" in text
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


def test_apply_page_offers_both_letters(client):
    html = client.get("/apply/").content.decode()
    assert 'formaction="/apply/letter/"' in html
    assert "Скачать шаблон письма для образовательной организации" in html
    assert "Скачать шаблон письма для координатора" in html


def test_letter_template_is_throttled_per_address(client, settings):
    settings.HELPDESK_LETTER_RATE = (2, 3600)
    for _ in range(2):
        assert client.post("/apply/letter/", {"variant": "school"}).status_code == 200
    response = client.post("/apply/letter/", {"variant": "school"})
    assert response.status_code == 429
    assert "Слишком много запросов" in response.content.decode()
    assert client.post("/apply/letter/", {"variant": "school"}, REMOTE_ADDR="10.0.0.2").status_code == 200
