"""Zip containers (zip bombs, escaping paths, passwords) and the ClamAV scan, through /apply/."""

import io
import logging
import socket
import zipfile

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fisoko_portal.uploads import masked_name
from helpdesk.models import Attachment
from tests.clamd_server import CLAMD, SIGNATURE, eicar, running_clamd
from tests.conftest import require_service
from tests.helpdesk.conftest import PDF, pdf
from tests.helpdesk.test_apply import assert_refused, submit

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def make_zip(entries, name="docs.zip", encrypted=False):
    """An upload holding a real zip archive of (entry name, bytes) pairs, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
            if encrypted:
                # ZipFile cannot encrypt; the flag in the central directory is what is checked.
                archive.infolist()[-1].flag_bits |= 0x1
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def assert_accepted(response, name):
    assert response.status_code == 302, response.context["form"].errors
    assert Attachment.objects.get().original_name == name


def test_zip_with_a_pdf_inside_is_accepted(client, valid_data):
    assert_accepted(submit(client, valid_data, [make_zip([("scan.pdf", PDF)])]), "docs.zip")


def test_docx_written_by_python_docx_is_accepted(client, valid_data):
    document = docx.Document()
    document.add_paragraph("Просим заменить пароль для доступа в личный кабинет ФИС ОКО.")
    buffer = io.BytesIO()
    document.save(buffer)
    letter = SimpleUploadedFile("letter.docx", buffer.getvalue())
    assert_accepted(submit(client, valid_data, [letter]), "letter.docx")


def test_zip_of_exactly_1000_entries_is_accepted(client, valid_data):
    archive = make_zip([(f"{i}.pdf", PDF) for i in range(1000)])
    assert_accepted(submit(client, valid_data, [archive]), "docs.zip")


# Built per test, not at collection: the total-size archive takes a fraction of a second.
@pytest.mark.parametrize(
    "build, message",
    [
        # 5 MiB of zeros deflate to a few KiB: more than 100:1 on an entry over 1 MiB.
        (
            lambda: make_zip([("zeros.bin", bytes(5 * MB))]),
            "«zeros.bin» внутри архива сжат подозрительно сильно",
        ),
        (
            lambda: make_zip(
                [("[Content_Types].xml", b"<Types/>"), ("word/document.xml", bytes(5 * MB))], "letter.docx"
            ),
            "Файл «letter.docx»: «word/document.xml» внутри архива сжат подозрительно сильно",
        ),
        # 201 entries of 1 MiB each stay within the ratio rule, but unpack to more than 200 MB.
        (
            lambda: make_zip([(f"{i}.bin", bytes(MB)) for i in range(201)]),
            "распаковывается в слишком большой объём",
        ),
        (
            lambda: make_zip([(f"{i}.pdf", b"") for i in range(1001)]),
            "в архиве слишком много файлов (можно не более 1000)",
        ),
        (lambda: make_zip([("scan.pdf", PDF)], encrypted=True), "Файл «docs.zip» защищён паролем"),
        (lambda: SimpleUploadedFile("docs.zip", b"PK\x03\x04" + bytes(100)), "архив повреждён и не читается"),
    ],
    ids=["ratio", "docx-ratio", "total-size", "too-many-entries", "encrypted", "corrupt"],
)
def test_dangerous_zip_is_refused(client, valid_data, media_root, build, message):
    assert_refused(submit(client, valid_data, [pdf(), build()]), "attachments", message, media_root)


def test_entry_count_is_taken_from_the_directory_not_the_end_record(client, valid_data, media_root):
    data = bytearray(make_zip([(f"{i}.pdf", b"") for i in range(1001)]).read())
    data[-14:-10] = (1).to_bytes(2, "little") * 2  # the end record now claims a single entry
    response = submit(client, valid_data, [SimpleUploadedFile("docs.zip", bytes(data))])
    assert_refused(response, "attachments", "в архиве слишком много файлов", media_root)


@pytest.mark.parametrize(
    "entry", ["../../evil.sh", "/etc/passwd", "docs/../../evil.sh", "C:\\evil.bat", "..\\evil.sh"]
)
def test_zip_entry_escaping_its_folder_is_refused(client, valid_data, media_root, entry):
    response = submit(client, valid_data, [make_zip([("scan.pdf", PDF), (entry, b"#!/bin/sh\n")])])
    assert_refused(
        response, "attachments", f"Файл «docs.zip»: недопустимый путь «{entry}» внутри архива", media_root
    )


@pytest.mark.parametrize(
    "entry",
    [
        "run.exe",
        "Письмо/счёт.PDF.js",
        "scan.pdf.lnk",
        "update.hta",
        "start.BAT",
        "screen.scr",
        "run.exe. ",  # Windows saves it as run.exe
        "macro.docm",
        "disk.iso",
    ],
)
def test_zip_with_an_executable_inside_is_refused_naming_it(client, valid_data, media_root, entry):
    archive = make_zip([("scan.pdf", PDF), (entry, b"MZ")], "scan.zip")
    message = f"В архиве «scan.zip» есть исполняемый файл «{entry}»: такие файлы не принимаются"
    assert_refused(submit(client, valid_data, [pdf(), archive]), "attachments", message, media_root)


def test_docx_carrying_a_script_is_refused(client, valid_data, media_root):
    letter = make_zip(
        [("[Content_Types].xml", b"<Types/>"), ("word/embeddings/run.vbs", b"x")], "letter.docx"
    )
    message = "В архиве «letter.docx» есть исполняемый файл «word/embeddings/run.vbs»"
    assert_refused(submit(client, valid_data, [letter]), "attachments", message, media_root)


def test_names_that_only_look_like_executables_are_accepted(client, valid_data):
    archive = make_zip([("exe.pdf", PDF), ("отчёт.js.pdf", PDF), ("bat/scan.pdf", PDF)])
    assert_accepted(submit(client, valid_data, [archive]), "docs.zip")


# --- ClamAV ---------------------------------------------------------------------------------

UNAVAILABLE = "Проверка файлов на вирусы временно недоступна"


@pytest.fixture(scope="session")
def clamd_installed():
    require_service(CLAMD.exists(), f"ClamAV's daemon is not installed ({CLAMD}; apt package clamav-daemon)")


@pytest.fixture(scope="session")
def clamd_socket(clamd_installed):
    with running_clamd() as (path, _seconds):
        yield path


@pytest.fixture
def clamav(settings, clamd_socket):
    settings.CLAMAV_ENABLED = True
    settings.CLAMAV_SOCKET = str(clamd_socket)
    settings.CLAMAV_TIMEOUT = 10


def test_eicar_in_a_zip_is_refused_naming_the_threat(client, valid_data, media_root, clamav):
    response = submit(client, valid_data, [pdf(), make_zip([("eicar.txt", eicar())], "docs.zip")])
    message = f"Файл «docs.zip» не принят: обнаружена угроза {SIGNATURE}"
    assert_refused(response, "attachments", message, media_root)


def test_refused_file_is_logged_without_its_name(client, valid_data, media_root, clamav, caplog):
    upload = make_zip([("eicar.txt", eicar())], "Иванова Мария паспорт.zip")
    with caplog.at_level(logging.WARNING, logger="fisoko_portal.uploads"):
        response = submit(client, valid_data, [upload])
    assert_refused(response, "attachments", "«Иванова Мария паспорт.zip» не принят", media_root)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "fisoko_portal.uploads"]
    assert line.startswith(f"Upload *.zip refused: clamd found {SIGNATURE}")
    assert "Иванова" not in caplog.text


@pytest.mark.parametrize(
    "name, shown",
    [("Иванова паспорт.PDF", "*.pdf"), ("скан", "*"), ("a.tar.gz", "*.gz"), ("отчёт.docx", "*.docx")],
)
def test_masked_name_keeps_only_the_extension(name, shown):
    assert masked_name(name) == shown


def test_clean_files_pass_the_scan(client, valid_data, clamav):
    # Over 2.5 MB, so Django hands over a temporary file, sent to clamd in many 64 KiB chunks.
    big = pdf("scan.pdf", PDF + bytes(3 * MB))
    response = submit(client, valid_data, [big, make_zip([("scan.pdf", PDF)])])
    assert response.status_code == 302, response.context["form"].errors
    assert Attachment.objects.count() == 2


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("where", ["missing-socket", "closed-tcp-port"])
def test_unreachable_clamd_refuses_the_submission(
    client, valid_data, media_root, settings, caplog, tmp_path, where
):
    settings.CLAMAV_ENABLED = True
    if where == "missing-socket":
        settings.CLAMAV_SOCKET = str(tmp_path / "no-clamd.sock")
    else:
        settings.CLAMAV_SOCKET, settings.CLAMAV_HOST, settings.CLAMAV_PORT = "", "127.0.0.1", _closed_port()
    with caplog.at_level(logging.ERROR, logger="fisoko_portal.uploads"):
        response = submit(client, valid_data, [pdf()])
    assert_refused(response, "attachments", UNAVAILABLE, media_root)
    assert [r.levelno for r in caplog.records if "clamd" in r.getMessage()] == [logging.ERROR]


def test_clamd_error_reply_refuses_the_submission(
    client, valid_data, media_root, settings, caplog, clamd_installed
):
    with running_clamd(stream_max_length="1M") as (path, _seconds):
        settings.CLAMAV_ENABLED, settings.CLAMAV_SOCKET = True, str(path)
        response = submit(client, valid_data, [pdf("scan.pdf", PDF + bytes(2 * MB))])
    assert_refused(response, "attachments", UNAVAILABLE, media_root)
    assert "size limit exceeded" in caplog.text
