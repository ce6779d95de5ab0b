"""Checks on uploaded attachments: names, types by content, zip containers, viruses."""

import logging
import re
import unicodedata
import zipfile
from pathlib import PurePath

import filetype
from django.conf import settings

from fisoko_portal import antivirus

log = logging.getLogger(__name__)

MAX_TOTAL_BYTES = 40 * 1024 * 1024
ALLOWED_EXTENSIONS = ["png", "gif", "jpeg", "jpg", "pdf", "doc", "docx", "zip", "rar", "xls", "xlsx"]

# What the first bytes may be for each extension. Office 97 files share one
# container (OLE2), and Office 2007+ files are zip archives that some writers
# lay out so that only «zip» is recognisable.
_OLE = {"doc", "xls", "ppt"}
CONTENT_FOR_EXTENSION = {
    "png": {"png"},
    "gif": {"gif"},
    "jpeg": {"jpg"},
    "jpg": {"jpg"},
    "pdf": {"pdf"},
    "doc": _OLE,
    "xls": _OLE,
    "docx": {"docx", "zip"},
    "xlsx": {"xlsx", "zip"},
    "zip": {"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"},
    "rar": {"rar"},
}


# Kinds that are zip archives inside (Office 2007+, OpenDocument, epub).
ZIP_KINDS = {"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"}
ZIP_MAX_RATIO = 100  # an entry may be compressed at most 100:1 ...
ZIP_RATIO_FREE_SIZE = 1024 * 1024  # ... unless it unpacks to 1 MiB or less
_DRIVE = re.compile(r"^[A-Za-z]:")

# Entries an operator could run by a double click in the unpacked folder: programs, scripts,
# shortcuts, installers, disk images (Windows mounts them and drops the «from the internet» mark
# from what is inside), Office files with macros. A letter and its scans never need any of them.
EXECUTABLE_EXTENSIONS = {
    *("exe", "com", "scr", "pif", "cpl", "dll", "msi", "msp", "mst", "app", "jar"),
    *("bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "sh"),
    *("lnk", "url", "scf", "reg", "msc", "chm", "iso", "img", "vhd", "vhdx"),
    *("docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "ppam"),
}


class UploadError(ValueError):
    pass


def clean_name(name):
    """The user's file name made safe to show and store, or UploadError.

    Django's parser already drops directory parts; a name that still carries
    a control character (a NUL, say) or a path is refused rather than guessed at.
    """
    if any(unicodedata.category(ch) == "Cc" for ch in name) or "/" in name or "\\" in name:
        raise UploadError(f"Недопустимое имя файла «{_printable(name)}».")
    name = unicodedata.normalize("NFC", name).strip().strip(".")
    if not name or name in {".", ".."}:
        raise UploadError("Недопустимое имя файла.")
    return name[:255]


def _printable(name):
    return "".join(ch if ch.isprintable() else "�" for ch in name)[:100]


def masked_name(name):
    """A user's file name as logs may show it: the extension only (``*.zip``).

    People name scans after themselves («Иванова паспорт.pdf»), and logs keep no personal data.
    """
    extension = extension_of(name)
    return f"*.{_printable(extension)[:10]}" if extension else "*"


def extension_of(name):
    return PurePath(name).suffix.lower().lstrip(".")


def detect_type(uploaded):
    """Read the first bytes of an uploaded file and return filetype's guess, or None."""
    uploaded.seek(0)
    head = uploaded.read(8192)
    uploaded.seek(0)
    return filetype.guess(head)


def check_name(name):
    """Return the clean name of a file whose extension is allowed, or raise UploadError.

    The form's check before the upload judges the chosen files by this alone.
    """
    name = clean_name(name or "")
    if extension_of(name) not in CONTENT_FOR_EXTENSION:
        raise UploadError(f"Файл «{name}»: недопустимый тип. Разрешены: {', '.join(ALLOWED_EXTENSIONS)}.")
    return name


def check_file(uploaded):
    """Return (clean name, detected MIME type) for one upload, or raise UploadError."""
    name = check_name(uploaded.name)
    extension = extension_of(name)
    kind = detect_type(uploaded)
    if kind is None or kind.extension not in CONTENT_FOR_EXTENSION[extension]:
        raise UploadError(f"Файл «{name}»: содержимое не соответствует расширению .{extension}.")
    if kind.extension in ZIP_KINDS:
        check_zip(uploaded, name)  # RAR is not opened: no library for it here; clamd scans it
    scan_for_viruses(uploaded, name)
    return name, kind.mime


def check_zip(uploaded, name):
    """Refuse a zip container that is unreadable, encrypted, a zip bomb, or writes outside its folder.

    Only the central directory is read (declared sizes); nothing is decompressed. Archives
    nested inside are not opened: clamd, when enabled, looks into them.
    """
    max_entries = getattr(settings, "UPLOAD_ZIP_MAX_ENTRIES", 1000)
    max_total = getattr(settings, "UPLOAD_ZIP_MAX_UNCOMPRESSED", 200 * 1024 * 1024)
    try:
        uploaded.seek(0)
        # Parsing the central directory costs time and memory per entry, so the count and size
        # it declares (at most 1 KiB an entry) are checked first, in the end record that ZipFile
        # itself reads.
        end = zipfile._EndRecData(uploaded)  # private, but unchanged since Python 2
        entries = None
        if not end or (
            end[zipfile._ECD_ENTRIES_TOTAL] <= max_entries and end[zipfile._ECD_SIZE] <= max_entries * 1024
        ):
            with zipfile.ZipFile(uploaded) as archive:
                entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(f"Файл «{name}»: архив повреждён и не читается.") from error
    finally:
        uploaded.seek(0)
    if entries is None or len(entries) > max_entries:
        raise UploadError(f"Файл «{name}»: в архиве слишком много файлов (можно не более {max_entries}).")
    if sum(entry.file_size for entry in entries) > max_total:
        raise UploadError(
            f"Файл «{name}»: архив распаковывается в слишком большой объём (более {max_total // 2**20} МБ)."
        )
    for entry in entries:
        shown = _printable(entry.filename)
        if entry.flag_bits & 0x1:
            raise UploadError(f"Файл «{name}» защищён паролем. Приложите файл без пароля.")
        if entry.file_size > ZIP_RATIO_FREE_SIZE and entry.file_size > ZIP_MAX_RATIO * entry.compress_size:
            raise UploadError(
                f"Файл «{name}»: «{shown}» внутри архива сжат подозрительно сильно (более чем в "
                f"{ZIP_MAX_RATIO} раз). Приложите файл без такого сжатия."
            )
        path = entry.filename.replace("\\", "/")
        if path.startswith("/") or _DRIVE.match(path) or ".." in path.split("/"):
            raise UploadError(f"Файл «{name}»: недопустимый путь «{shown}» внутри архива.")
        if _is_executable(path):
            raise UploadError(
                f"В архиве «{name}» есть исполняемый файл «{shown}»: такие файлы не принимаются."
            )


def _is_executable(path):
    # Windows drops trailing dots and spaces from a name: «run.exe. » is saved as «run.exe».
    base = path.rsplit("/", 1)[-1].rstrip(". ")
    return extension_of(base) in EXECUTABLE_EXTENSIONS


def scan_for_viruses(uploaded, name):
    """Refuse a file in which clamd (when CLAMAV_ENABLED) finds a threat; fail closed when it can't scan."""
    if not getattr(settings, "CLAMAV_ENABLED", False):
        return
    try:
        threat = antivirus.scan(uploaded)
    except antivirus.ScanError as error:
        log.error("Antivirus scan of an upload failed: %s", error)
        raise UploadError(
            "Проверка файлов на вирусы временно недоступна, заявка не принята. Попробуйте отправить её позже."
        ) from error
    if threat:
        log.warning("Upload %s refused: clamd found %s", masked_name(name), threat)
        raise UploadError(f"Файл «{name}» не принят: обнаружена угроза {threat}.")
