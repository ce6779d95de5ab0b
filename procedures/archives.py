"""A school's archive of one work, streamed as a .zip: its variants, its participant codes laid
out for cutting, and the paper protocol.

The zip is written by the standard library into a sink that the response drains after every
chunk: a variant file is read 64 KiB at a time, so the web process holds a chunk, never the archive.
"""

import io
import time
import zipfile
import zlib

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

CHUNK = 64 * 1024
VARIANTS_PER_SCHOOL = 2


def variants_for(school, variants):
    """The variants a school gets: two consecutive ones (cyclically) starting at a place fixed by
    the school's code, so a school gets the same ones on every download and neighbours differ."""
    variants = sorted(variants, key=lambda v: v.number)
    if not variants:
        return []
    start = zlib.crc32(f"{school.region_id}{school.code}".encode()) % len(variants)
    return [variants[(start + i) % len(variants)] for i in range(min(VARIANTS_PER_SCHOOL, len(variants)))]


def archive_name(work, school):
    return f"archive-{work.code}-{school.region_id}{school.code}.zip"


def _heading(doc, work, school, title):
    paragraph = doc.add_paragraph()
    paragraph.add_run(f"{work.procedure.title}. {work}").bold = True
    doc.add_paragraph(f"{school.name} (код ОО {school.region_id}{school.code})")
    doc.add_heading(title, level=1)


def codes_docx(work, school, codes):
    """The participant codes as a grid of cards to print and cut, one card per participant."""
    doc = Document()
    _heading(doc, work, school, "Коды участников")
    doc.add_paragraph(
        "Разрежьте лист по линиям и выдайте каждому участнику одну карточку. "
        "Соответствие кода и ФИО участника заносится в бумажный протокол и остаётся в ОО."
    )
    columns = 4
    table = doc.add_table(rows=0, cols=columns)
    table.style = "Table Grid"
    for start in range(0, len(codes), columns):
        cells = table.add_row().cells
        for cell, code in zip(cells, codes[start : start + columns], strict=False):
            cell.paragraphs[0].add_run(f"{work.subject}, {work.grade} кл.").font.size = Pt(8)
            paragraph = cell.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run(code)
            run.bold, run.font.size = True, Pt(20)
    return _bytes(doc)


def protocol_docx(work, school, codes, variants):
    """The paper protocol: a row per participant code, with its variant, for the ОО to fill in."""
    doc = Document()
    _heading(doc, work, school, "Бумажный протокол проведения")
    doc.add_paragraph("Хранится в образовательной организации; в систему не загружается.")
    headers = ["№", "Код участника", "Вариант", "Класс (литера)", "ФИО участника"]
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.paragraphs[0].add_run(text).bold = True
    numbers = [v.number for v in variants]
    for n, code in enumerate(codes):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = str(n + 1), code
        cells[2].text = str(numbers[n % len(numbers)]) if numbers else ""
    for row in table.rows:
        row.cells[4].width = Cm(7)
    return _bytes(doc)


def _bytes(doc):
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


class _Sink:
    """A write-only file for ``zipfile``: not seekable, so entries carry data descriptors and the
    zip can be sent as it is written."""

    def __init__(self):
        self._chunks = []

    def write(self, data):
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def drain(self):
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def school_archive(*, work, school, codes):
    """Build the documents and pick the variants now (while the request's database is at hand),
    and return the generator that streams the zip."""
    variants = variants_for(school, list(work.variants.all()))
    documents = [
        ("Коды участников.docx", codes_docx(work, school, codes)),
        ("Протокол проведения.docx", protocol_docx(work, school, codes, variants)),
    ]
    return _stream(documents, variants)


def _stream(documents, variants):
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in documents:
            archive.writestr(name, data)
            yield sink.drain()
        for variant in variants:
            extension = variant.filename.rsplit(".", 1)[-1] if "." in variant.filename else "bin"
            # Stored, not deflated: variants come as PDFs, already compressed, and deflating megabytes
            # that do not shrink cost ~50 ms of CPU per 3 MB, most of an archive's time at the release.
            entry = zipfile.ZipInfo(f"Варианты/Вариант {variant.number}.{extension}", time.localtime()[:6])
            entry.compress_type = zipfile.ZIP_STORED
            with variant.file.open("rb") as source, archive.open(entry, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            yield sink.drain()
    yield sink.drain()
