import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from procedures.models import Application, ApplicationWork, Procedure, Task, Work
from tests.conftest import login_client

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The work of these tests: tasks 1 (max 1), «4(1)» (max 2), 5 (max 3); marks from 2, 4, 6 points.
TASKS = [("1", 1), ("4(1)", 2), ("5", 3)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def school_org(school):
    from accounts.models import School

    return School.objects.get(region_id="77", code="1234")


@pytest.fixture
def make_work(db):
    def make(code="MA5", results_open=True, title="ВПР 2027"):
        procedure, _ = Procedure.objects.get_or_create(kind="vpr", title=title, year=2027)
        today = timezone.localdate()
        day = dt.timedelta(days=1)
        work = Work.objects.create(
            procedure=procedure,
            code=code,
            subject="Математика",
            grade=5,
            held_from=today - 3 * day,
            held_until=today + day,
            materials_at=timezone.now() - 4 * day,
            results_from=today - 3 * day,
            results_until=today + 5 * day if results_open else today - day,
            scale_3=2,
            scale_4=4,
            scale_5=6,
        )
        for n, (label, most) in enumerate(TASKS):
            Task.objects.create(work=work, label=label, max=most, order=n)
        return work

    return make


@pytest.fixture
def apply_for(db):
    def apply(work, school_row, participants=6):
        application, _ = Application.objects.get_or_create(procedure=work.procedure, school=school_row)
        return ApplicationWork.objects.create(
            application=application, work=work, participants=participants, day=work.held_from
        )

    return apply


@pytest.fixture
def work(make_work):
    return make_work()


@pytest.fixture
def line(work, school_org, apply_for):
    return apply_for(work, school_org)


@pytest.fixture
def school_client(school):
    return login_client(school)


def download_form(client, work):
    response = client.get(f"/cabinet/procedures/works/{work.pk}/results-form/")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == XLSX
    return response.content


def fill(data, rows, edit=None):
    """Fill the downloaded form: ``rows`` are lists of values from «Класс» on (None leaves the
    cell as it is), one per participant code in order; ``edit(sheet)`` changes anything else."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    for n, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=2):
            if value is not None:
                sheet.cell(row=n, column=column, value=value)
    if edit:
        edit(sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, work, data, name="results.xlsx"):
    return client.post(
        f"/cabinet/procedures/works/{work.pk}/results/",
        {"file": SimpleUploadedFile(name, data, content_type=XLSX)},
    )


def codes_in(data):
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]]
