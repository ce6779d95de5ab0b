"""The results collection form (SPEC §8): the writer that makes it for a school and a work, and
the reader that checks every cell of a filled one. Errors name the row and the column as the
person sees them in the spreadsheet: «строка 14, столбец «4(1)»: 3 больше максимума 2»."""

import io
from dataclasses import dataclass

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

SHEET_TITLE = "Результаты"
HEAD = ["Код участника", "Класс", "Вариант"]
TAIL = ["Пол", "Отметка по журналу"]
# «Х» (not attempted) is typed in Russian; the Latin X looks the same and is accepted too.
NOT_ATTEMPTED = {"Х", "X", "х", "x"}
SEXES = {"М": "М", "Ж": "Ж", "м": "М", "ж": "Ж"}
JOURNAL_MARKS = (2, 3, 4, 5)
# A form holds at most 500 participants (the application's limit); a sheet with more rows than
# this is not a filled form, and reading on would only cost time.
MAX_ROWS = 1000
SHOWN_ERRORS = 50
UNREADABLE = "Файл не читается как таблица Excel (.xlsx). Загрузите форму, скачанную на портале."
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def header_for(labels):
    return [*HEAD, *labels, *TAIL]


# ---------------------------------------------------------------- the writer


def form_workbook(*, work, school, codes, variants, tasks):
    """The form as .xlsx bytes: the header in row 1 (frozen), a row per participant code with its
    class and variant filled in (the variant as the paper protocol gives it), and data validation
    on every cell the school fills. The school and the work are named in the workbook's properties
    and on the second sheet «Сведения»."""
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    labels = [t.label for t in tasks]
    header = header_for(labels)
    sheet.append(header)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
    sheet.freeze_panes = "B2"
    numbers = [v.number for v in variants]
    for n, code in enumerate(codes):
        sheet.append([code, str(work.grade), numbers[n % len(numbers)] if numbers else None])
    last = max(len(codes), 1) + 1
    first_task = len(HEAD) + 1
    for offset, task in enumerate(tasks):
        letter = get_column_letter(first_task + offset)
        top = f"{letter}2"
        rule = DataValidation(
            type="custom",
            formula1=(
                f'OR(AND(ISNUMBER({top}),{top}>=0,{top}<={task.max},INT({top})={top}),{top}="Х",{top}="X")'
            ),
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Задание " + task.label,
            error=f"Целый балл от 0 до {task.max} или «Х» (не приступал).",
        )
        rule.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(rule)
    for column, options, message in [
        (len(header) - 1, "М,Ж", "«М» или «Ж»."),
        (len(header), "2,3,4,5", "Отметка по журналу: 2, 3, 4 или 5."),
    ]:
        letter = get_column_letter(column)
        rule = DataValidation(
            type="list", formula1=f'"{options}"', allow_blank=True, showErrorMessage=True, error=message
        )
        rule.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(rule)
    for n, title in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = max(8, len(title) + 2)

    about = book.create_sheet("Сведения")
    for line in [
        ("Форма сбора результатов", ""),
        ("Процедура", work.procedure.title),
        ("Работа", f"{work.code}: {work}"),
        ("ОО", f"{school.region_id}{school.code} — {school.name}"),
        ("", ""),
        ("Как заполнять", "Заполните строку каждого участника на листе «Результаты»."),
        (
            "",
            "В столбце задания — целый балл от 0 до максимума или «Х», если участник не приступал "
            "(русская или латинская буква; засчитывается 0 баллов).",
        ),
        ("", "Строка без баллов — участник отсутствовал. Не оставляйте строку заполненной частично."),
        ("", "«Пол» — М или Ж, «Отметка по журналу» — от 2 до 5: обязательны для присутствовавших."),
        ("", "Не меняйте коды участников, заголовки и порядок столбцов; не вставляйте формулы."),
    ]:
        about.append(line)
    about["A1"].font = bold
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = 100
    book.properties.title = f"Форма сбора результатов: {work.procedure.title}, {work.code}"
    book.properties.subject = f"{work.code}: {work}"
    book.properties.keywords = f"{school.region_id}{school.code}"
    book.properties.description = f"{school.region_id}{school.code} — {school.name}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def form_name(work, school):
    return f"forma-rezultatov-{work.code}-{school.region_id}{school.code}.xlsx"


# ---------------------------------------------------------------- the reader


@dataclass(frozen=True)
class Row:
    code: str
    grade_label: str
    variant: int | None
    scores: tuple | None  # None: absent; inside, None is «Х»
    sex: str
    journal: int | None


class FormRefused(Exception):
    """The file is not an acceptable form; ``errors`` lists every problem found."""

    def __init__(self, errors):
        super().__init__(errors[0] if errors else "")
        self.errors = errors

    @property
    def shown(self):
        return self.errors[:SHOWN_ERRORS]

    @property
    def hidden(self):
        return max(0, len(self.errors) - SHOWN_ERRORS)


def _empty(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _whole(value):
    """A whole number from a cell (a number, or digits typed as text), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def read_form(handle, *, tasks, codes):
    """The rows of a filled form, or ``FormRefused`` with every error.

    ``tasks`` are the work's tasks in order (label, max); ``codes`` the school's participant codes.
    Formulas are refused: a formula's value is whatever the spreadsheet last computed, which is
    not stored reliably, and a school types results, it does not compute them.
    """
    try:
        book = load_workbook(handle, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds on a damaged file
        raise FormRefused([UNREADABLE]) from error
    try:
        return _read_rows(book.worksheets[0], tasks, set(codes))
    finally:
        book.close()


def _read_rows(sheet, tasks, codes):
    labels = [t.label for t in tasks]
    expected = header_for(labels)
    rows = sheet.iter_rows()
    header = next(rows, ())
    found = [_text(c.value) if not _empty(c.value) else "" for c in header]
    while found and not found[-1]:
        found.pop()
    if found != expected:
        raise FormRefused(_header_errors(found, expected))

    errors, result, seen = [], [], {}
    width = len(expected)
    first_task, sex_at, journal_at = len(HEAD), width - 2, width - 1
    for number, cells in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise FormRefused(
                [
                    f"В файле больше {MAX_ROWS} строк: это не форма сбора результатов. "
                    "Загрузите форму, скачанную на портале, без лишних строк."
                ]
            )
        cells = list(cells)
        values = [c.value for c in cells[:width]] + [None] * (width - len(cells))
        if all(_empty(v) for v in values) and all(_empty(c.value) for c in cells[width:]):
            continue

        def error(column, text, number=number):
            errors.append(f"строка {number}, столбец «{expected[column]}»: {text}")

        formula = False
        for column, cell in enumerate(cells):
            if getattr(cell, "data_type", None) == "f":
                formula = True
                title = expected[column] if column < width else get_column_letter(column + 1)
                errors.append(
                    f"строка {number}, столбец «{title}»: формула {cell.value} — "
                    "введите значение, а не формулу"
                )
        for column, cell in enumerate(cells[width:], start=width):
            if not _empty(cell.value) and getattr(cell, "data_type", None) != "f":
                errors.append(
                    f"строка {number}, столбец {get_column_letter(column + 1)}: лишнее значение "
                    f"«{_text(cell.value)[:40]}» справа от таблицы"
                )
        if formula:
            continue

        code = _text(values[0]) if not _empty(values[0]) else ""
        task_values = values[first_task:sex_at]
        if not code:
            error(0, "нет кода участника")
            continue
        if code not in codes:
            error(0, f"код {code[:20]} не выдан вашей ОО для этой работы")
            continue
        if code in seen:
            error(0, f"код {code} повторяется (уже в строке {seen[code]})")
            continue
        seen[code] = number

        filled = [not _empty(v) for v in task_values]
        grade_label = _text(values[1])[:10] if not _empty(values[1]) else ""
        if not any(filled):
            result.append(Row(code, grade_label, None, None, "", None))
            continue
        if not all(filled):
            for offset, is_filled in enumerate(filled):
                if not is_filled:
                    error(
                        first_task + offset,
                        "пусто — заполните все задания (или «Х», если не приступал), "
                        "или оставьте строку без баллов, если участник отсутствовал",
                    )
            continue

        scores = []
        for offset, (task, value) in enumerate(zip(tasks, task_values, strict=True)):
            column = first_task + offset
            if isinstance(value, str) and value.strip() in NOT_ATTEMPTED:
                scores.append(None)
                continue
            points = _whole(value)
            if points is None:
                error(
                    column, f"«{_text(value)[:40]}» — не целое число: нужен балл от 0 до {task.max} или «Х»"
                )
            elif points < 0:
                error(column, f"{points} меньше 0")
            elif points > task.max:
                error(column, f"{points} больше максимума {task.max}")
            else:
                scores.append(points)

        sex = SEXES.get(_text(values[sex_at])) if not _empty(values[sex_at]) else None
        if _empty(values[sex_at]):
            error(sex_at, "не заполнен (М или Ж) — участник выполнял работу")
        elif sex is None:
            error(sex_at, f"«{_text(values[sex_at])[:20]}» — нужно «М» или «Ж»")
        journal = _whole(values[journal_at]) if not _empty(values[journal_at]) else None
        if _empty(values[journal_at]):
            error(journal_at, "не заполнена (от 2 до 5) — участник выполнял работу")
        elif journal not in JOURNAL_MARKS:
            error(journal_at, f"«{_text(values[journal_at])[:20]}» — нужна отметка от 2 до 5")
        variant = None
        if not _empty(values[2]):
            variant = _whole(values[2])
            if variant is None or not 1 <= variant <= 999:
                error(2, f"«{_text(values[2])[:20]}» — нужен номер варианта (целое число)")
        if len(scores) == len(tasks) and sex and journal in JOURNAL_MARKS:
            result.append(Row(code, grade_label, variant, tuple(scores), sex, journal))
    if errors:
        raise FormRefused(errors)
    if not result:
        raise FormRefused(["В файле нет ни одного участника: заполните форму, скачанную на портале."])
    return result


def _header_errors(found, expected):
    if not found:
        return ["В первой строке первого листа нет заголовка формы: загрузите форму, скачанную на портале."]
    errors = []
    for n in range(max(len(found), len(expected))):
        letter = get_column_letter(n + 1)
        want = expected[n] if n < len(expected) else None
        got = found[n] if n < len(found) else None
        if want == got:
            continue
        if want is None:
            errors.append(f"строка 1, столбец {letter}: лишний столбец «{got}»")
        elif not got:
            errors.append(f"строка 1, столбец {letter}: нет столбца «{want}»")
        else:
            errors.append(f"строка 1, столбец {letter}: ожидался «{want}», а в файле «{got}»")
    errors.append(
        "Столбцы формы нельзя удалять, добавлять и переставлять: "
        "скачайте форму заново и перенесите в неё баллы."
    )
    return errors


# ---------------------------------------------------------------- the reports' writer


def tables_xlsx(tables, *, heading):
    """Reports as .xlsx, one sheet per ``reports.Table`` (rows may be a generator: openpyxl's
    write-only mode keeps written rows in a temporary file, not in memory). Returns an open
    temporary file positioned at its start."""
    import tempfile

    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(table.title[:31])
        sheet.append([heading])
        sheet.append([table.title])
        if table.note:
            sheet.append([table.note])
        sheet.append([])
        sheet.append(table.header)
        for row in table.rows:
            sheet.append([round(v, 1) if isinstance(v, float) else v for v in row])
    handle = tempfile.TemporaryFile()
    book.save(handle)
    handle.seek(0)
    return handle
