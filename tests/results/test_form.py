import io

import pytest
from openpyxl import load_workbook

from procedures.models import ArchiveDownload, Download, ParticipantCode

from .conftest import download_form

pytestmark = pytest.mark.django_db


def test_form_has_the_spec_header_the_school_codes_and_helps_the_typist(school_client, line, school_org):
    data = download_form(school_client, line.work)
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == ["Код участника", "Класс", "Вариант", "1", "4(1)", "5", "Пол", "Отметка по журналу"]
    codes = ParticipantCode.objects.filter(work=line.work, school=school_org)
    codes = list(codes.values_list("code", flat=True))
    assert len(codes) == 6
    assert [sheet.cell(row=n, column=1).value for n in range(2, 8)] == codes
    assert sheet.cell(row=2, column=2).value == "5"
    assert sheet.freeze_panes == "B2"
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["D2:D7"].type == "custom" and "D2<=1" in rules["D2:D7"].formula1
    assert "E2<=2" in rules["E2:E7"].formula1 and '"Х"' in rules["E2:E7"].formula1
    assert rules["G2:G7"].type == "list" and rules["G2:G7"].formula1 == '"М,Ж"'
    assert rules["H2:H7"].formula1 == '"2,3,4,5"'
    assert "77" + "1234" in book.properties.keywords and "MA5" in book.properties.title
    about = [c.value for row in book["Сведения"].iter_rows() for c in row if c.value]
    assert any("1234" in str(v) for v in about) and any("Математика" in str(v) for v in about)


def test_form_codes_are_the_same_on_every_download_and_each_download_is_recorded(school_client, line):
    first = download_form(school_client, line.work)
    second = download_form(school_client, line.work)
    column = [load_workbook(io.BytesIO(d)).worksheets[0]["A"] for d in (first, second)]
    assert [c.value for c in column[0]] == [c.value for c in column[1]]
    records = ArchiveDownload.objects.filter(work=line.work, what=Download.FORM)
    assert [(r.username, r.school_id) for r in records] == [("sch771234", line.application.school_id)] * 2


def test_form_of_an_unreleased_or_unapplied_work_is_not_found(school_client, make_work, line):
    other = make_work(code="RU5")
    assert school_client.get(f"/cabinet/procedures/works/{other.pk}/results-form/").status_code == 404
    line.work.materials_at = line.work.materials_at.replace(year=2100)
    line.work.save()
    assert school_client.get(f"/cabinet/procedures/works/{line.work.pk}/results-form/").status_code == 404


def test_other_school_cannot_download_the_form(line, other_school):
    from tests.conftest import login_client

    response = login_client(other_school).get(f"/cabinet/procedures/works/{line.work.pk}/results-form/")
    assert response.status_code == 404
    assert not ArchiveDownload.objects.exists()
