import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import School
from procedures.models import Application, ApplicationChange, ApplicationWork
from tests.conftest import login_client

pytestmark = pytest.mark.django_db


def url(procedure):
    return f"/cabinet/procedures/{procedure.pk}/application/"


def form(work, participants=25, day=None, version=0, **extra):
    day = day or work.held_from
    return {
        f"work-{work.pk}-take": "on",
        f"work-{work.pk}-participants": str(participants),
        f"work-{work.pk}-day": day.isoformat() if hasattr(day, "isoformat") else day,
        "version": str(version),
        **extra,
    }


def snapshot():
    return (
        list(ApplicationWork.objects.values_list("work__code", "participants", "day")),
        ApplicationChange.objects.count(),
        list(Application.objects.values_list("version", flat=True)),
    )


def test_school_files_its_application_and_sees_it_with_its_history(make_procedure, school):
    procedure = make_procedure(works=("MA5", "RU5"))
    ma5 = procedure.works.get(code="MA5")
    client = login_client(school)
    page = client.get(url(procedure)).content.decode()
    assert "Предмет MA5, 5 класс" in page and "Предмет RU5, 6 класс" in page
    response = client.post(url(procedure), form(ma5, 25), follow=True)
    html = response.content.decode()
    assert "Заявка сохранена." in html
    line = ApplicationWork.objects.get()
    assert (line.work, line.participants, line.day) == (ma5, 25, ma5.held_from)
    change = ApplicationChange.objects.get()
    assert (change.by_username, change.before) == ("sch771234", {})
    assert change.after == {"MA5": {"participants": 25, "day": ma5.held_from.isoformat()}}
    assert "sch771234" in html and f"MA5: 25 уч., {ma5.held_from.isoformat()}" in html
    tab = client.get("/cabinet/vpr/").content.decode()
    assert "Заявка подана: работ 1, участников 25." in tab


@pytest.mark.parametrize(
    "participants, day_shift, message",
    [
        (0, 0, "Число участников — целое число от 1 до 500."),
        (501, 0, "Число участников — целое число от 1 до 500."),
        ("много", 0, "Число участников — целое число от 1 до 500."),
        (10, -1, "Дата проведения — день с "),
        (10, 11, "Дата проведения — день с "),
    ],
)
def test_out_of_range_participants_or_day_are_refused(
    make_procedure, school, participants, day_shift, message
):
    procedure = make_procedure()
    work = procedure.works.get()
    response = login_client(school).post(
        url(procedure), form(work, participants, work.held_from + dt.timedelta(days=day_shift))
    )
    assert message in response.content.decode()
    assert snapshot() == ([], 0, [])


def test_work_of_another_procedure_is_refused(make_procedure, school):
    procedure = make_procedure()
    niko_work = make_procedure(kind="niko", title="НИКО 2027").works.get()
    data = {**form(procedure.works.get()), **form(niko_work)}
    response = login_client(school).post(url(procedure), data)
    assert (
        "В заявке есть работы, которых нет в этой процедуре: заявка не сохранена."
        in response.content.decode()
    )
    assert snapshot() == ([], 0, [])


def test_school_cannot_open_or_post_an_application_of_another_kind(make_procedure, school):
    niko = make_procedure(kind="niko", title="НИКО 2027")
    client = login_client(school)
    assert client.get(url(niko)).status_code == 404
    assert client.post(url(niko), form(niko.works.get())).status_code == 404
    assert snapshot() == ([], 0, [])


def test_forged_version_is_refused(make_procedure, school):
    procedure = make_procedure()
    response = login_client(school).post(url(procedure), form(procedure.works.get(), version="x"))
    assert "Форма повреждена: откройте заявку заново." in response.content.decode()
    assert snapshot() == ([], 0, [])


def test_after_the_deadline_the_application_is_read_only(make_procedure, school):
    procedure = make_procedure(school_open=False)
    client = login_client(school)
    page = client.get(url(procedure)).content.decode()
    assert "Приём заявок завершён" in page and "заявку можно только просмотреть" in page
    assert "Сохранить заявку" not in page and " disabled" in page
    response = client.post(url(procedure), form(procedure.works.get()))
    assert response.status_code == 403
    assert "Изменения не сохранены." in response.content.decode()
    assert snapshot() == ([], 0, [])


def test_before_the_stage_starts_nothing_is_accepted(make_procedure, school):
    procedure = make_procedure()
    later = timezone.now() + dt.timedelta(days=1)
    procedure.stages.filter(title="Заявка на участие").update(starts=later, ends=later)
    response = login_client(school).post(url(procedure), form(procedure.works.get()))
    assert response.status_code == 403 and "Приём заявок начнётся" in response.content.decode()
    assert snapshot() == ([], 0, [])


def coordinator_url(procedure, school_row):
    return f"/cabinet/procedures/{procedure.pk}/schools/{school_row.pk}/application/"


def test_coordinator_corrects_after_the_schools_deadline_and_the_school_sees_who(
    make_procedure, school, school_org, municipal_coordinator
):
    procedure = make_procedure(school_open=False)
    work = procedure.works.get()
    response = login_client(municipal_coordinator).post(
        coordinator_url(procedure, school_org), form(work, 40), follow=True
    )
    assert "Заявка сохранена." in response.content.decode()
    assert ApplicationWork.objects.get().participants == 40
    assert ApplicationChange.objects.get().by_username == "reg77_vpr_m003"
    assert "reg77_vpr_m003" in login_client(school).get(url(procedure)).content.decode()


def test_coordinator_after_its_own_deadline_is_refused(make_procedure, school_org, municipal_coordinator):
    procedure = make_procedure(school_open=False, municipal_open=False)
    response = login_client(municipal_coordinator).post(
        coordinator_url(procedure, school_org), form(procedure.works.get())
    )
    assert response.status_code == 403 and "Срок исправления заявок истёк" in response.content.decode()
    assert snapshot() == ([], 0, [])


def test_coordinator_cannot_reach_a_school_outside_its_area(
    make_procedure, make_account, municipal_coordinator
):
    procedure = make_procedure()
    outside = School.objects.create(region_id="77", code="5601", name="Другая")
    elsewhere = School.objects.create(region_id="50", code="0101", name="Подмосковье")
    client = login_client(municipal_coordinator)
    assert client.post(coordinator_url(procedure, outside), form(procedure.works.get())).status_code == 404
    regional = login_client(make_account("reg77_vpr"))
    assert regional.get(coordinator_url(procedure, outside)).status_code == 200
    assert (
        regional.post(coordinator_url(procedure, elsewhere), form(procedure.works.get())).status_code == 404
    )
    assert login_client(make_account("reg77_kko")).get(coordinator_url(procedure, outside)).status_code == 404
    assert snapshot() == ([], 0, [])


def test_second_coordinator_with_a_stale_form_is_told_and_nothing_is_lost(
    make_procedure, school_org, municipal_coordinator, regional_coordinator
):
    procedure = make_procedure()
    work = procedure.works.get()
    first, second = login_client(municipal_coordinator), login_client(regional_coordinator)
    assert 'name="version" value="0"' in first.get(coordinator_url(procedure, school_org)).content.decode()
    assert 'name="version" value="0"' in second.get(coordinator_url(procedure, school_org)).content.decode()
    first.post(coordinator_url(procedure, school_org), form(work, 30, version=0))
    response = second.post(coordinator_url(procedure, school_org), form(work, 99, version=0))
    html = response.content.decode()
    assert response.status_code == 409
    assert "Заявка изменилась, пока вы её редактировали" in html
    assert 'value="30"' in html and 'name="version" value="1"' in html and "reg77_vpr_m003" in html
    assert ApplicationWork.objects.get().participants == 30
    assert ApplicationChange.objects.count() == 1
    # With the fresh version the second coordinator's change goes through.
    second.post(coordinator_url(procedure, school_org), form(work, 99, version=1))
    assert ApplicationWork.objects.get().participants == 99


def test_unchecking_a_work_removes_it_and_is_logged(make_procedure, school):
    procedure = make_procedure(works=("MA5", "RU5"))
    ma5, ru5 = procedure.works.get(code="MA5"), procedure.works.get(code="RU5")
    client = login_client(school)
    client.post(url(procedure), {**form(ma5, 10), **form(ru5, 20)})
    client.post(url(procedure), form(ru5, 20, version=1))
    assert list(ApplicationWork.objects.values_list("work__code", flat=True)) == ["RU5"]
    last = ApplicationChange.objects.first()
    assert set(last.before) == {"MA5", "RU5"} and set(last.after) == {"RU5"}
