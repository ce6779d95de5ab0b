import io

import docx
import pypdfium2
import pytest

from helpdesk.letter import COORDINATOR, SCHOOL, letter_docx, letter_pdf, variant_for

TYPED = {
    "login": "sch771234",
    "reason": "утерей пароля",
    "organization": "ГБОУ «Школа № 1234»",
    "head": "Иванова Мария Петровна",
    "person": "Сидоров Иван Ильич",
    "email": "school1234@example.ru",
    "phone": "+7 900 123-45-67",
}
STAMP_NOTE = "Заявка должна быть заверена печатью организации и подписью руководителя организации."
HINTS = [
    "указать логин, используемый для входа в личный кабинет ФИС ОКО",
    "указать причину замены пароля",
    "указать полное наименование организации",
    "указать ФИО руководителя организации",
    "указать фамилию, имя и отчество полностью",
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


def pdf_text(data):
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document).replace("\r", "")
    finally:
        document.close()


@pytest.mark.parametrize(
    "variant, label",
    [
        (SCHOOL, "ФИО ответственного лица (организатора), для которого меняется пароль: Сидоров Иван Ильич"),
        (COORDINATOR, "ФИО координатора, для которого меняется пароль: Сидоров Иван Ильич"),
    ],
)
def test_letter_names_the_person_whose_password_is_replaced(variant, label):
    assert label in text_of(letter_docx(variant=variant, **TYPED))


@pytest.mark.parametrize("variant", [COORDINATOR, SCHOOL])
def test_pdf_says_what_the_docx_says_in_cyrillic(variant):
    data = letter_pdf(variant=variant, **TYPED)
    assert data.startswith(b"%PDF-")
    text = " ".join(pdf_text(data).split())  # lines wrap where the page ends
    assert "Просим заменить пароль" in text and "для логина: sch771234 в связи с утерей пароля." in text
    for value in TYPED.values():
        assert value in text, value
    assert "Правильность предоставленных сведений подтверждаем." in text
    assert (STAMP_NOTE in text) is (variant == SCHOOL)
    assert pypdfium2.PdfDocument(data)[0].get_size() == pytest.approx((595.28, 841.89), abs=1)  # A4


def test_blank_pdf_has_lines_and_hints_to_fill_by_hand():
    text = " ".join(pdf_text(letter_pdf(variant=SCHOOL)).split())
    for hint in HINTS:
        assert hint in text, hint


def test_hostile_input_builds_a_pdf():
    data = letter_pdf(variant=SCHOOL, organization="Я" * 10_000, head="\x00😀 ]]>", login="<script>")
    text = pdf_text(data)
    assert text.count("Я") == 10_000 and "<script>" in text


@pytest.mark.parametrize(
    "login, organization_type, variant",
    [
        ("sch771234", "", SCHOOL),
        ("edu771234", "executive", SCHOOL),
        ("reg77_vpr", "school", COORDINATOR),
        ("reg77_vpr_m003", "", COORDINATOR),
        ("niko_77", "", COORDINATOR),
        ("spo_coord_77", "", COORDINATOR),
        ("reg77_kko", "", COORDINATOR),
        ("", "executive", COORDINATOR),
        ("", "municipal", COORDINATOR),
        ("nonsense", "", SCHOOL),
    ],
)
def test_variant_follows_the_logins_role(login, organization_type, variant):
    assert variant_for(login, organization_type) == variant
