import io

import docx
import pytest

from helpdesk.letter import COORDINATOR, SCHOOL, letter_docx

TYPED = {
    "login": "sch771234",
    "reason": "утерей пароля",
    "organization": "ГБОУ «Школа № 1234»",
    "head": "Иванова Мария Петровна",
    "email": "school1234@example.ru",
    "phone": "+7 900 123-45-67",
}
STAMP_NOTE = "Заявка должна быть заверена печатью организации и подписью руководителя организации."
HINTS = [
    "указать логин, используемый для входа в личный кабинет ФИС ОКО",
    "указать причину замены пароля",
    "указать полное наименование организации",
    "указать ФИО руководителя организации",
    "указать адрес электронной почты для отправки ответа на заявку",
    "указать номер мобильного телефона, на который будет выслан пароль",
]


def text_of(data):
    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


@pytest.mark.parametrize("variant", [COORDINATOR, SCHOOL])
def test_letter_contains_request_and_every_typed_value(variant):
    text = text_of(letter_docx(variant=variant, **TYPED))
    assert "Просим заменить пароль" in text
    assert "для логина: sch771234 в связи с утерей пароля." in text
    for value in TYPED.values():
        assert value in text
    assert "Правильность предоставленных сведений подтверждаем." in text
    assert "Федеральный институт оценки качества образования" in text


def test_school_letter_has_school_letterhead_stamp_and_footnote():
    text = text_of(letter_docx(variant=SCHOOL, **TYPED))
    assert "Бланк образовательной организации" in text
    assert "М.П." in text
    assert STAMP_NOTE in text
    assert "Бланк органа исполнительной власти" not in text


def test_coordinator_letter_has_authority_letterhead_and_no_school_footnote():
    text = text_of(letter_docx(variant=COORDINATOR, **TYPED))
    assert "Бланк органа исполнительной власти субъекта Российской Федерации" in text
    assert "Бланк образовательной организации" not in text
    assert STAMP_NOTE not in text


@pytest.mark.parametrize("variant", [COORDINATOR, SCHOOL])
def test_empty_letter_builds_with_blank_lines_and_hints(variant):
    text = text_of(letter_docx(variant=variant))
    assert "Просим заменить пароль" in text
    assert "________________" in text
    for hint in HINTS:
        assert hint in text
    assert "None" not in text


def test_filled_values_replace_their_hints():
    text = text_of(letter_docx(variant=SCHOOL, **TYPED))
    for hint in HINTS:
        assert hint not in text


def test_hostile_input_builds_a_valid_document_without_forbidden_characters():
    long_value = "Я" * 10_000
    data = letter_docx(
        variant=SCHOOL,
        login="<script>alert(1)</script>",
        reason="кражей & \"взломом\" 'пароля'\x00\x01\x0b\x0c\x1f",
        organization=long_value,
        head="]]><w:p/>",
        email="a&b@example.ru",
        phone="\x00+7 900\x08 000",
    )
    text = text_of(data)
    assert "<script>alert(1)</script>" in text
    assert "кражей & \"взломом\" 'пароля'" in text
    assert long_value in text
    assert "]]><w:p/>" in text
    assert "a&b@example.ru" in text
    assert "+7 900 000" in text
    assert not any(ch in text for ch in "\x00\x01\x08\x0b\x0c\x1f")


def test_unknown_variant_raises_value_error():
    with pytest.raises(ValueError):
        letter_docx(variant="ministry")
