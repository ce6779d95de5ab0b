"""The ФИС ОКО password-replacement letter as a .docx, pre-filled with what the user typed."""

import io
import re

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt, RGBColor

COORDINATOR = "coordinator"
SCHOOL = "school"

LETTERHEADS = {
    COORDINATOR: "Бланк органа исполнительной власти субъекта Российской Федерации",
    SCHOOL: "Бланк образовательной организации",
}
ADDRESSEE = (
    "В федеральное государственное бюджетное учреждение «Федеральный институт оценки качества образования»"
)
STAMP_NOTE = "Заявка должна быть заверена печатью организации и подписью руководителя организации."
BLANK = "_" * 40
HINT_COLOR = RGBColor(0x80, 0x80, 0x80)

# Characters XML 1.0 forbids (tab, newline and carriage return are allowed), plus lone surrogates
# and the non-characters U+FFFE/U+FFFF, which lxml refuses as well.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value):
    return _FORBIDDEN.sub("", str(value or "")).strip()


def _hint(paragraph, text):
    run = paragraph.add_run(text)
    run.font.size = Pt(9)
    run.font.color.rgb = HINT_COLOR


def _value_or_blank(paragraph, value, hint):
    """Write ``value``, or a line of underscores followed by a small grey hint."""
    if value:
        paragraph.add_run(value).underline = True
    else:
        paragraph.add_run(BLANK)
        _hint(paragraph, f" ({hint})")


def _labelled(doc, label, value, hint):
    paragraph = doc.add_paragraph()
    paragraph.add_run(label + " ").bold = True
    if value:
        paragraph.add_run(value)
    else:
        paragraph.add_run(BLANK)
        _hint(doc.add_paragraph(), f"({hint})")


def letter_docx(*, variant, login="", reason="", organization="", head="", email="", phone="") -> bytes:
    """Return the .docx bytes of the letter, pre-filled with what was typed; blank lines where nothing was."""
    if variant not in LETTERHEADS:
        raise ValueError(f"unknown letter variant: {variant!r}")
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    section.top_margin = section.bottom_margin = Cm(2)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(14)

    doc.add_paragraph().add_run(LETTERHEADS[variant]).italic = True
    addressee = doc.add_paragraph(ADDRESSEE)
    addressee.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    addressee.paragraph_format.left_indent = Cm(8)

    request = doc.add_paragraph()
    request.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    request.paragraph_format.first_line_indent = Cm(1.25)
    request.add_run(
        "Просим заменить пароль для доступа в личный кабинет федеральной информационной системы "
        "оценки качества образования (ФИС ОКО) для логина: "
    )
    _value_or_blank(request, _clean(login), "указать логин, используемый для входа в личный кабинет ФИС ОКО")
    request.add_run(" в связи с ")
    _value_or_blank(request, _clean(reason), "указать причину замены пароля")
    request.add_run(".")

    _labelled(
        doc,
        "Полное наименование организации:",
        _clean(organization),
        "указать полное наименование организации",
    )
    _labelled(doc, "Руководитель организации:", _clean(head), "указать ФИО руководителя организации")
    _labelled(
        doc,
        "Адрес электронной почты для получения пароля:",
        _clean(email),
        "указать адрес электронной почты для отправки ответа на заявку",
    )
    _labelled(
        doc,
        "Номер телефона (мобильного) ответственного лица организации:",
        _clean(phone),
        "указать номер мобильного телефона, на который будет выслан пароль",
    )

    doc.add_paragraph("Правильность предоставленных сведений подтверждаем.")
    doc.add_paragraph()
    doc.add_paragraph("Руководитель организации  " + "_" * 20 + "  Подпись  " + "_" * 20)
    doc.add_paragraph("М.П.")
    if variant == SCHOOL:
        note = doc.add_paragraph().add_run(STAMP_NOTE)
        note.font.size, note.italic = Pt(10), True

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
