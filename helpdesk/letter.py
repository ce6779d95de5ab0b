"""The ФИС ОКО password-replacement letter, pre-filled with what the user typed: .docx to edit, .pdf to print.

One list of paragraphs (``_paragraphs``) is written out by two renderers, so the two formats say
the same. The PDF is set in PT Serif, shipped inside a PyPI wheel (``fontpkg-pt-serif``): no font
has to be installed on the machine for the Cyrillic to print.
"""

import io
import logging
import re
from dataclasses import dataclass

import fontpkg_pt_serif
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt, RGBColor
from fpdf import FPDF

from accounts.logins import Role, parse_login

COORDINATOR = "coordinator"
SCHOOL = "school"
VARIANTS = (SCHOOL, COORDINATOR)
DOCX = "docx"
PDF = "pdf"
CONTENT_TYPES = {
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    PDF: "application/pdf",
}

LETTERHEADS = {
    COORDINATOR: "Бланк органа исполнительной власти субъекта Российской Федерации",
    SCHOOL: "Бланк образовательной организации",
}
# Whose password is replaced: the seed instruction asks for the coordinator's or the organizer's name.
PERSON_LABELS = {
    COORDINATOR: "ФИО координатора, для которого меняется пароль:",
    SCHOOL: "ФИО ответственного лица (организатора), для которого меняется пароль:",
}
ADDRESSEE = (
    "В федеральное государственное бюджетное учреждение «Федеральный институт оценки качества образования»"
)
REQUEST = (
    "Просим заменить пароль для доступа в личный кабинет федеральной информационной системы "
    "оценки качества образования (ФИС ОКО) для логина: "
)
STAMP_NOTE = "Заявка должна быть заверена печатью организации и подписью руководителя организации."
BLANK = "_" * 40
HINT_COLOR = RGBColor(0x80, 0x80, 0x80)
FONT_DIR = fontpkg_pt_serif.ROOT / "files"
# fpdf2 embeds a subset of the font through fontTools, which logs every glyph it keeps at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# Characters XML 1.0 forbids (tab, newline and carriage return are allowed), plus lone surrogates
# and the non-characters U+FFFE/U+FFFF, which lxml refuses as well.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

COORDINATOR_TYPES = {"executive", "municipal"}  # OrganizationType values of a coordinator's body


def variant_for(login="", organization_type=""):
    """The letter a login needs: a school's (stamp) for sch/edu logins, a coordinator's otherwise.

    Without a valid login the organization type decides; without either, the school's letter,
    the one most requests carry.
    """
    info = parse_login(login)
    if info:
        return SCHOOL if info.role in (Role.SCHOOL, Role.SCHOOL_NIKO) else COORDINATOR
    return COORDINATOR if organization_type in COORDINATOR_TYPES else SCHOOL


def _clean(value):
    return _FORBIDDEN.sub("", str(value or "")).strip()


@dataclass(frozen=True)
class _Field:
    label: str
    value: str
    hint: str


def _paragraphs(variant, *, login, reason, organization, head, person, email, phone):
    """The letter as (kind, content) pairs, in order; the renderers decide how each kind looks."""
    yield "letterhead", LETTERHEADS[variant]
    yield "addressee", ADDRESSEE
    yield (
        "request",
        [
            (REQUEST, "text"),
            *_value_or_blank(login, "указать логин, используемый для входа в личный кабинет ФИС ОКО"),
            (" в связи с ", "text"),
            *_value_or_blank(reason, "указать причину замены пароля"),
            (".", "text"),
        ],
    )
    yield (
        "field",
        _Field("Полное наименование организации:", organization, "указать полное наименование организации"),
    )
    yield "field", _Field("Руководитель организации:", head, "указать ФИО руководителя организации")
    yield "field", _Field(PERSON_LABELS[variant], person, "указать фамилию, имя и отчество полностью")
    yield (
        "field",
        _Field(
            "Адрес электронной почты для получения пароля:",
            email,
            "указать адрес электронной почты для отправки ответа на заявку",
        ),
    )
    yield (
        "field",
        _Field(
            "Номер телефона (мобильного) ответственного лица организации:",
            phone,
            "указать номер мобильного телефона, на который будет выслан пароль",
        ),
    )
    yield "text", "Правильность предоставленных сведений подтверждаем."
    yield "signature", "Руководитель организации  " + "_" * 20 + "  Подпись  " + "_" * 20
    yield "text", "М.П."
    if variant == SCHOOL:
        yield "note", STAMP_NOTE


def _value_or_blank(value, hint):
    """Runs for ``value``, or a line of underscores followed by a small grey hint."""
    if value:
        return [(value, "value")]
    return [(BLANK, "text"), (f" ({hint})", "hint")]


_FIELDS = ("login", "reason", "organization", "head", "person", "email", "phone")


def _values(variant, fields):
    if variant not in LETTERHEADS:
        raise ValueError(f"unknown letter variant: {variant!r}")
    return {name: _clean(fields.get(name)) for name in _FIELDS}


def letter_docx(*, variant, **fields) -> bytes:
    """Return the .docx bytes of the letter, pre-filled with what was typed; blank lines where nothing was.

    ``fields``: login, reason (a phrase after «в связи с»), organization, head, person, email, phone.
    """
    values = _values(variant, fields)
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    section.top_margin = section.bottom_margin = Cm(2)
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(14)

    for kind, content in _paragraphs(variant, **values):
        if kind == "letterhead":
            doc.add_paragraph().add_run(content).italic = True
        elif kind == "addressee":
            paragraph = doc.add_paragraph(content)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.paragraph_format.left_indent = Cm(8)
        elif kind == "request":
            paragraph = doc.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            paragraph.paragraph_format.first_line_indent = Cm(1.25)
            for text, style_name in content:
                _docx_run(paragraph, text, style_name)
        elif kind == "field":
            paragraph = doc.add_paragraph()
            paragraph.add_run(content.label + " ").bold = True
            if content.value:
                paragraph.add_run(content.value)
            else:
                paragraph.add_run(BLANK)
                _docx_run(doc.add_paragraph(), f"({content.hint})", "hint")
        elif kind == "signature":
            doc.add_paragraph()
            doc.add_paragraph(content)
        elif kind == "note":
            run = doc.add_paragraph().add_run(content)
            run.font.size, run.italic = Pt(10), True
        else:
            doc.add_paragraph(content)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _docx_run(paragraph, text, style_name):
    run = paragraph.add_run(text)
    if style_name == "value":
        run.underline = True
    elif style_name == "hint":
        run.font.size = Pt(9)
        run.font.color.rgb = HINT_COLOR


def letter_pdf(*, variant, **fields) -> bytes:
    """The same letter as a print-ready A4 PDF (the fields as :func:`letter_docx` takes them)."""
    values = _values(variant, fields)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(30, 20, 15)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title("Письмо-заявка на замену пароля ФИС ОКО")
    pdf.add_font("PTSerif", "", FONT_DIR / "PT_Serif-Web-Regular.ttf")
    pdf.add_font("PTSerif", "B", FONT_DIR / "PT_Serif-Web-Bold.ttf")
    pdf.add_font("PTSerif", "I", FONT_DIR / "PT_Serif-Web-Italic.ttf")
    pdf.add_page()
    line = 6.5  # mm: 13 pt type with room to write by hand between lines

    def font(style="", size=13):
        pdf.set_font("PTSerif", style, size)

    for kind, content in _paragraphs(variant, **values):
        if kind == "letterhead":
            font("I")
            pdf.multi_cell(0, line, content)
            pdf.ln(8)
        elif kind == "addressee":
            font()
            pdf.set_x(pdf.l_margin + 80)
            pdf.multi_cell(0, line, content, align="R")
            pdf.ln(8)
        elif kind == "request":
            pdf.set_x(pdf.l_margin + 12.5)
            for text, style_name in content:
                if style_name == "hint":
                    font("", 9)
                    pdf.set_text_color(0x80)
                else:
                    font("U" if style_name == "value" else "")
                    pdf.set_text_color(0)
                pdf.write(line, text)
            pdf.set_text_color(0)
            pdf.ln(line + 3)
        elif kind == "field":
            font("B")
            pdf.write(line, content.label + " ")
            font()
            if content.value:
                # A value that does not fit after its label starts a line of its own, unbroken.
                if pdf.get_string_width(content.value) > pdf.w - pdf.r_margin - pdf.get_x():
                    pdf.ln(line)
                pdf.write(line, content.value)
                pdf.ln(line + 3)
            else:  # a full-width line to write on by hand, and what goes there under it
                pdf.ln(line)
                pdf.cell(0, 9, "", border="B", new_x="LMARGIN", new_y="NEXT")
                font("", 9)
                pdf.set_text_color(0x80)
                pdf.multi_cell(0, 4.5, f"({content.hint})")
                pdf.set_text_color(0)
                pdf.ln(3)
        elif kind == "signature":
            pdf.ln(10)
            font()
            pdf.multi_cell(0, line, content)
            pdf.ln(3)
        elif kind == "note":
            pdf.ln(8)
            font("I", 10)
            pdf.multi_cell(0, 5, content)
        else:
            font()
            pdf.multi_cell(0, line, content)
            pdf.ln(3)
    return bytes(pdf.output())
