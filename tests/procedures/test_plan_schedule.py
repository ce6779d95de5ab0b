import re

import pytest

from tests.conftest import login_client

pytestmark = pytest.mark.django_db


def plan_rows(html):
    table = html.split('class="table table-sm align-middle plan-schedule"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr class="([^"]*)">\s*<td>(?:<strong>)?([^<]+)', table)


def test_school_sees_the_plan_schedule_with_its_next_stage_and_past_ones(make_procedure, school):
    procedure = make_procedure()
    stage = procedure.stages.get(title="Проверка заявок ОО")
    stage.ends = stage.starts  # long past
    stage.save()
    html = login_client(school).get("/cabinet/vpr/").content.decode()
    assert "Время московское (МСК, UTC+3)" in html
    rows = plan_rows(html)
    assert [title for _, title in rows] == [
        "Заявка на участие",
        "Проверка заявок ОО",
        "Согласование заявок региона",
        "Проведение работ",
    ]
    classes = dict((title, cls) for cls, title in rows)
    assert "plan-next" in classes["Заявка на участие"] and "plan-mine" in classes["Заявка на участие"]
    assert "plan-past" in classes["Проверка заявок ОО"]
    assert "plan-next" not in classes["Проведение работ"]
    assert "Ваш ближайший срок" in html
    assert "Муниципальный координатор" in html


def test_coordinators_next_stage_is_their_own(make_procedure, municipal_coordinator, regional_coordinator):
    make_procedure()
    municipal = dict(
        (t, c)
        for c, t in plan_rows(login_client(municipal_coordinator).get("/cabinet/vpr/").content.decode())
    )
    assert "plan-next" in municipal["Проверка заявок ОО"]
    assert "plan-next" not in municipal["Заявка на участие"]
    regional = login_client(regional_coordinator).get("/cabinet/vpr/").content.decode()
    assert "plan-next" in dict((t, c) for c, t in plan_rows(regional))["Согласование заявок региона"]
    assert "Ход работы ОО" in regional and "Заявка на участие</a>" not in regional


def test_a_procedure_shows_only_in_the_tab_of_its_kind(make_procedure, make_account, school):
    make_procedure(kind="niko", title="НИКО 2027")
    assert "НИКО 2027" not in login_client(school).get("/cabinet/vpr/").content.decode()
    assert "НИКО 2027" in login_client(make_account("niko_77")).get("/cabinet/niko/").content.decode()
    assert "НИКО 2027" not in login_client(school).get("/cabinet/kko/").content.decode()


def test_a_school_missing_from_the_directory_is_told_why_it_cannot_apply(make_procedure, make_account):
    procedure = make_procedure()
    client = login_client(make_account("sch779999"))
    html = client.get("/cabinet/vpr/").content.decode()
    assert "Вашей организации нет в справочнике ОО" in html
    assert client.get(f"/cabinet/procedures/{procedure.pk}/application/").status_code == 404
