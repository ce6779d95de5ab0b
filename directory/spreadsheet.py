"""Read the directory file of SPEC §9 (CSV or .xlsx) into rows keyed by column.

The one reader for the import, in the admin and in ``manage.py import_directory``. It checks the
file as a whole — size, kind, encoding, header — and raises ``FileRefused`` with a Russian message;
the rows' values are checked by the plan (``directory.services``). .xlsx is read by python-calamine
(Rust): about ten times faster than openpyxl for 40,000 rows, and it reads values only, never
running anything. A formula cell in an .xlsx arrives as the value Excel computed and saved.
"""

import csv
import io
import re
import unicodedata

from python_calamine import CalamineError, CalamineWorkbook

from fisoko_portal.uploads import UploadError, check_zip

MAX_BYTES = 200 * 1024 * 1024

# The header of SPEC §9, in any order, and the key each column is read into.
COLUMNS = {
    "Код региона": "region",
    "Код муниципалитета": "municipality_code",
    "Муниципалитет": "municipality_name",
    "Код ОО": "school_code",
    "Наименование ОО": "school_name",
    "НИКО": "niko",
}
EXPECTED_HEADER = ", ".join(f"«{name}»" for name in COLUMNS)
SAVE_AS_UTF8 = "Сохраните его в Excel как «CSV UTF-8 (разделитель — запятая)» или как книгу .xlsx."
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FileRefused(ValueError):
    """The file as a whole cannot be read as a directory; nothing is imported."""


def _key(header):
    return " ".join(str(header).replace("\ufeff", "").split()).casefold().replace("ё", "е")


_KNOWN = {_key(name): key for name, key in COLUMNS.items()}


def read_rows(file, *, size):
    """Yield (line number, {column key: text}) for each non-empty row of ``file``, or raise FileRefused.

    ``file`` is a binary file object; ``size`` its length in bytes.
    """
    if size > MAX_BYTES:
        raise FileRefused(f"Файл больше {MAX_BYTES // 2**20} МБ. Разделите справочник на несколько файлов.")
    if size == 0:
        raise FileRefused("Файл пуст.")
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    if head.startswith(b"PK\x03\x04"):
        rows = _xlsx_rows(file)
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused("Файлы .xls (Excel 97–2003) не принимаются. " + SAVE_AS_UTF8)
    else:
        rows = _csv_rows(file.read())
    header_line, header = next(rows, (0, None))
    if header is None:
        raise FileRefused("Файл пуст.")
    columns = _columns(header)
    for line, cells in rows:
        values = {key: (cells[index] if index < len(cells) else "") for index, key in columns.items()}
        if any(values.values()):
            yield line, values


def _columns(header):
    """{cell index: column key} for the header row, or FileRefused."""
    columns, seen = {}, {}
    for index, cell in enumerate(header):
        key = _key(cell)
        if not key:
            continue
        if key in seen:
            raise FileRefused(
                f"Столбец «{cell}» встречается в заголовке дважды (столбцы {seen[key]} и {index + 1})."
            )
        seen[key] = index + 1
        if key in _KNOWN:
            columns[index] = _KNOWN[key]
    missing = [name for name, key in COLUMNS.items() if key not in columns.values()]
    if missing:
        found = [str(cell) for cell in header if _key(cell)]
        if found and all(cell.isascii() for cell in found):
            raise FileRefused(
                "Заголовок файла не на русском языке. "
                f"Первая строка должна содержать столбцы {EXPECTED_HEADER}."
            )
        raise FileRefused(
            f"В первой строке нет столбцов: {', '.join(f'«{name}»' for name in missing)}. "
            f"Нужны столбцы {EXPECTED_HEADER} (в любом порядке)."
        )
    return columns


def _decode(data):
    """The text of a CSV: UTF-8 (with or without BOM), or Windows-1251 when that is unmistakable."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _cp1251(data)
    if _CONTROL.search(text):
        raise FileRefused("Файл не похож на таблицу CSV или .xlsx: в нём двоичные данные.")
    return text


def _cp1251(data):
    """Accept Windows-1251 only when it is unmistakable: the Russian header reads right in it,
    and the letters are almost all Russian.

    Almost any byte string decodes as 1251, so the decoding alone proves nothing: KOI8-R, say,
    decodes into Cyrillic too, but scrambled, and its header does not read.
    """
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:  # 0x98 is not a 1251 character
        raise FileRefused("Файл не в кодировке UTF-8. " + SAVE_AS_UTF8) from None
    letters = [ch for ch in text if ch.isalpha() and not ch.isascii()]
    cyrillic = sum("\u0410" <= ch <= "\u044f" or ch in "Ёё" for ch in letters)
    header = _key(text.split("\n", 1)[0])
    readable = all(_key(name) in header for name in COLUMNS)
    if not readable or cyrillic < 0.95 * len(letters) or _CONTROL.search(text):
        raise FileRefused("Файл не в кодировке UTF-8. " + SAVE_AS_UTF8)
    return text


def _csv_rows(data):
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") and ";" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, [unicodedata.normalize("NFC", cell).strip() for cell in cells]
    except csv.Error as error:
        raise FileRefused(f"Строка {reader.line_num}: файл CSV повреждён ({error}).") from error


def _xlsx_rows(file):
    try:
        check_zip(file, "файл")
    except UploadError as error:
        raise FileRefused(str(error).replace("Файл «файл»: ", "Файл .xlsx: ")) from error
    try:
        file.seek(0)
        sheet = CalamineWorkbook.from_filelike(file).get_sheet_by_index(0)
        first_row = sheet.start[0] if sheet.start else 0
        for index, cells in enumerate(sheet.iter_rows()):
            yield first_row + index + 1, [_cell_text(cell) for cell in cells]
    except (CalamineError, ValueError, OSError) as error:
        raise FileRefused("Файл .xlsx повреждён или защищён паролем и не читается.") from error


def _cell_text(value):
    """A cell as text: a whole number without «.0» (codes typed as numbers), dates as Excel shows them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "да" if value else "нет"
    return unicodedata.normalize("NFC", str(value)).strip()
