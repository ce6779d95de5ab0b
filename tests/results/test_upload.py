import io
import zipfile

import pytest
from openpyxl import Workbook

from procedures.models import ApplicationWork, ResultUpload
from results.models import Participant, Summary

from .conftest import codes_in, download_form, fill, upload

pytestmark = pytest.mark.django_db

# Class, variant, tasks 1 / 4(1) / 5, sex, journal.
GOOD = [
    ["5А", 1, 1, 2, 3, "М", 5],  # 6 points: «5», as in the journal
    ["5А", 2, 0, "Х", 1, "Ж", 4],  # 1 point: «2», lowered
    ["5Б", 1, "X", 2, 2, "Ж", 3],  # Latin X: 4 points: «4», raised
    ["5Б", 2, 1, 1, 0, "М", 2],  # 2 points: «3», raised
    ["5Б", None, None, None, None, None, None],  # absent
    ["5Б", None, None, None, None, None, None],  # absent
]


def nothing_stored():
    return (
        not Participant.objects.exists()
        and not Summary.objects.exists()
        and not ResultUpload.objects.exists()
        and not ApplicationWork.objects.exclude(results_uploaded_at=None).exists()
    )


def errors_of(response):
    assert response.status_code == 400, response.status_code
    text = response.content.decode()
    assert "Файл не принят, ничего не сохранено." in text
    return text


def test_good_form_is_taken_with_marks_and_the_count(school_client, line, school_org):
    form = download_form(school_client, line.work)
    codes = codes_in(form)
    response = upload(school_client, line.work, fill(form, GOOD))
    assert response.status_code == 302
    page = school_client.get(response["Location"]).content.decode()
    assert "Результаты приняты: выполняли работу 4, отсутствовали 2." in page
    stored = {p.code: p for p in Participant.objects.filter(work=line.work, school=school_org)}
    assert set(stored) == set(codes)
    first, second, third = stored[codes[0]], stored[codes[1]], stored[codes[2]]
    assert (first.scores, first.primary, first.mark, first.sex, first.journal) == ([1, 2, 3], 6, 5, "М", 5)
    assert (second.scores, second.primary, second.mark) == ([0, None, 1], 1, 2)
    assert (third.scores, third.primary, third.mark) == ([None, 2, 2], 4, 4)
    assert stored[codes[4]].scores is None and stored[codes[4]].mark is None
    summary = Summary.objects.get(work=line.work, school=school_org)
    assert (summary.participants, summary.absent) == (4, 2)
    assert (summary.marks_2, summary.marks_3, summary.marks_4, summary.marks_5) == (1, 1, 1, 1)
    assert (summary.lowered, summary.confirmed, summary.raised) == (1, 1, 2)
    assert summary.tasks == [2, 5, 6] and summary.score_sum == 13
    assert summary.scores == [0, 1, 1, 0, 1, 0, 1]
    line.refresh_from_db()
    assert line.results_uploaded_at is not None and ResultUpload.objects.count() == 1


def test_a_second_good_upload_replaces_the_first_whole(school_client, line, school_org):
    form = download_form(school_client, line.work)
    upload(school_client, line.work, fill(form, GOOD))
    again = [["5А", 1, 0, 0, 0, "М", 3]] + [["5А", None, None, None, None, None, None]] * 5
    response = upload(school_client, line.work, fill(form, again))
    assert response.status_code == 302
    assert Participant.objects.filter(work=line.work, scores__isnull=False).count() == 1
    summary = Summary.objects.get()
    assert (summary.participants, summary.absent, summary.marks_2, summary.marks_5) == (1, 5, 1, 0)
    assert (summary.lowered, summary.tasks) == (1, [0, 0, 0])


def test_a_bad_upload_after_a_good_one_keeps_the_good_one(school_client, line):
    form = download_form(school_client, line.work)
    upload(school_client, line.work, fill(form, GOOD))
    bad = [["5А", 1, 1, 9, 3, "М", 5]]
    errors_of(upload(school_client, line.work, fill(form, bad)))
    assert Summary.objects.get().participants == 4
    assert Participant.objects.filter(scores__isnull=False).count() == 4


def test_every_cell_error_is_listed_by_row_and_column_and_nothing_is_stored(school_client, line):
    form = download_form(school_client, line.work)
    bad = [
        ["5А", 1, 1, 3, 3, "М", 5],  # 3 above the maximum 2 of «4(1)»
        ["5А", 1, "два", 1, 1, "Ж", 4],  # text in a task
        ["5А", 1, 1, 1, 1, None, 4],  # no sex
        ["5А", 1, 1, 1, 1, "Ж", None],  # no journal mark
        ["5А", 1, 1, None, 1, "Ж", 4],  # partly filled
        ["5А", 1, 1, 1, 1, "Мальчик", 7],  # wrong sex and mark
    ]
    text = errors_of(upload(school_client, line.work, fill(form, bad)))
    assert "строка 2, столбец «4(1)»: 3 больше максимума 2" in text
    assert "строка 3, столбец «1»: «два» — не целое число: нужен балл от 0 до 1 или «Х»" in text
    assert "строка 4, столбец «Пол»: не заполнен" in text
    assert "строка 5, столбец «Отметка по журналу»: не заполнена" in text
    assert "строка 6, столбец «4(1)»: пусто" in text
    assert "строка 7, столбец «Пол»: «Мальчик» — нужно «М» или «Ж»" in text
    assert "строка 7, столбец «Отметка по журналу»: «7» — нужна отметка от 2 до 5" in text
    assert "Ошибок: 7." in text
    assert nothing_stored()


def test_unknown_and_repeated_codes_are_refused(school_client, line):
    form = download_form(school_client, line.work)
    codes = codes_in(form)

    def edit(sheet):
        sheet["A3"] = codes[0]
        sheet["A4"] = "99999" if "99999" not in codes else "10000"

    text = errors_of(upload(school_client, line.work, fill(form, GOOD, edit)))
    assert f"строка 3, столбец «Код участника»: код {codes[0]} повторяется (уже в строке 2)" in text
    assert "строка 4, столбец «Код участника»: код" in text and "не выдан вашей ОО" in text
    assert nothing_stored()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.delete_cols(5), "строка 1, столбец E: ожидался «4(1)», а в файле «5»"),
        (lambda s: s.move_range("D1:D7", cols=10), "строка 1, столбец D: нет столбца «1»"),
        (
            lambda s: s.cell(row=1, column=9, value="Примечание"),
            "строка 1, столбец I: лишний столбец «Примечание»",
        ),
    ],
)
def test_columns_missing_moved_or_added_are_refused(school_client, line, edit, message):
    form = download_form(school_client, line.work)
    text = errors_of(upload(school_client, line.work, fill(form, GOOD, edit)))
    assert message in text and "нельзя удалять, добавлять и переставлять" in text
    assert nothing_stored()


def test_formulas_are_refused(school_client, line):
    form = download_form(school_client, line.work)

    def edit(sheet):
        sheet["F2"] = "=1+2"

    text = errors_of(upload(school_client, line.work, fill(form, GOOD, edit)))
    assert "строка 2, столбец «5»: формула =1+2 — введите значение, а не формулу" in text
    assert nothing_stored()


def test_too_many_rows_are_refused(school_client, line):
    form = download_form(school_client, line.work)

    def edit(sheet):
        for n in range(8, 100_002):
            sheet.cell(row=n, column=1, value="12345")

    text = errors_of(upload(school_client, line.work, fill(form, GOOD, edit)))
    assert "В файле больше 1000 строк" in text
    assert nothing_stored()


def test_only_xlsx_is_taken(school_client, line):
    form = download_form(school_client, line.work)
    text = errors_of(upload(school_client, line.work, b"code;1;2\n", name="results.csv"))
    assert "нужен файл Excel .xlsx" in text
    text = errors_of(upload(school_client, line.work, b"%PDF-1.4 fake", name="results.xlsx"))
    assert "содержимое не соответствует расширению .xlsx" in text
    text = errors_of(upload(school_client, line.work, form, name="results.xls"))
    assert "нужен файл Excel .xlsx" in text
    assert nothing_stored()


def test_a_zip_bomb_is_refused_before_it_is_opened(school_client, line):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (50 * 1024 * 1024))
    text = errors_of(upload(school_client, line.work, buffer.getvalue()))
    assert "сжат подозрительно сильно" in text
    assert nothing_stored()


def test_a_workbook_that_is_not_the_form_is_refused(school_client, line):
    book = Workbook()
    book.active.append(["Фамилия", "Балл"])
    buffer = io.BytesIO()
    book.save(buffer)
    text = errors_of(upload(school_client, line.work, buffer.getvalue()))
    assert "строка 1, столбец A: ожидался «Код участника», а в файле «Фамилия»" in text
    assert nothing_stored()


def test_after_the_window_uploads_are_refused_with_the_date(school_client, make_work, school_org, apply_for):
    work = make_work(code="RU5", results_open=False)
    apply_for(work, school_org)
    form = download_form(school_client, work)
    response = upload(school_client, work, fill(form, GOOD))
    assert response.status_code == 403
    text = response.content.decode()
    assert f"Загрузка результатов завершена {work.results_until:%d.%m.%Y}" in text
    assert nothing_stored()


def test_the_page_says_both_x_letters_are_taken(school_client, line):
    page = school_client.get(f"/cabinet/procedures/works/{line.work.pk}/results/").content.decode()
    assert "и русская «Х», и латинская «X»" in page


def test_a_failure_midway_leaves_the_earlier_results(school_client, line, monkeypatch):
    """A crash between the rows and the stamp (as a worker or database restart would) rolls back."""
    form = download_form(school_client, line.work)
    upload(school_client, line.work, fill(form, GOOD))
    from procedures import services as procedure_services

    def crash(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(procedure_services, "results_upload_record", crash)
    again = [["5А", 1, 0, 0, 0, "М", 3]] * 6
    with pytest.raises(ConnectionError):
        upload(school_client, line.work, fill(form, again))
    assert Summary.objects.get().participants == 4
    assert Participant.objects.filter(scores__isnull=False).count() == 4
    assert Participant.objects.filter(primary=0).count() == 0


def test_a_file_larger_than_a_form_can_be_is_refused(school_client, line):
    text = errors_of(upload(school_client, line.work, b"PK\x03\x04" + b"\0" * (5 * 1024 * 1024 + 1)))
    assert "больше 5 МБ" in text
    assert nothing_stored()
