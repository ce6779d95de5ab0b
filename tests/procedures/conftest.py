import datetime as dt
import json

import pytest
from django.utils import timezone

from procedures.importing import procedure_import
from procedures.models import Procedure, Stage, StageRole, Task, Work


def procedure_file(**overrides):
    data = {
        "kind": "vpr",
        "title": "ВПР 2027",
        "year": 2027,
        "stages": [
            {"title": "Заявка на участие", "role": "school", "starts": "2027-02-01", "ends": "2027-02-14"},
            {
                "title": "Проверка заявок ОО",
                "role": "municipal",
                "starts": "2027-02-01",
                "ends": "2027-02-18",
            },
        ],
        "works": [
            {
                "code": "MA5",
                "subject": "Математика",
                "grade": 5,
                "held_from": "2027-04-14",
                "held_until": "2027-04-25",
                "materials_at": "2027-04-13T09:00:00+03:00",
                "results_from": "2027-04-14",
                "results_until": "2027-05-03",
                "tasks": [{"label": "1", "max": 1}, {"label": "4(1)", "max": 2}, {"label": "5", "max": 20}],
                "scale": [5, 10, 15],
            }
        ],
    }
    data.update(overrides)
    return json.dumps(data, ensure_ascii=False).encode()


def moscow(*args):
    return timezone.make_aware(dt.datetime(*args), timezone.get_default_timezone())


@pytest.fixture
def make_procedure(db):
    """A procedure whose windows sit around now: the application is open, the archive released."""

    def make(
        kind="vpr", title="ВПР 2027", school_open=True, municipal_open=True, released=True, works=("MA5",)
    ):
        now = timezone.now()
        day = dt.timedelta(days=1)
        procedure = Procedure.objects.create(kind=kind, title=title, year=2027)
        Stage.objects.create(
            procedure=procedure,
            title="Заявка на участие",
            role=StageRole.SCHOOL,
            starts=now - 5 * day,
            ends=now + day if school_open else now - day,
            order=0,
        )
        Stage.objects.create(
            procedure=procedure,
            title="Проверка заявок ОО",
            role=StageRole.MUNICIPAL,
            starts=now - 5 * day,
            ends=now + 2 * day if municipal_open else now - day,
            order=1,
        )
        Stage.objects.create(
            procedure=procedure,
            title="Согласование заявок региона",
            role=StageRole.REGIONAL,
            starts=now - 5 * day,
            ends=now + 3 * day,
            order=2,
        )
        Stage.objects.create(
            procedure=procedure,
            title="Проведение работ",
            role=StageRole.SCHOOL,
            starts=now + 5 * day,
            ends=now + 15 * day,
            order=3,
        )
        for n, code in enumerate(works):
            work = Work.objects.create(
                procedure=procedure,
                code=code,
                subject=f"Предмет {code}",
                grade=5 + n,
                held_from=timezone.localdate() + 5 * day,
                held_until=timezone.localdate() + 15 * day,
                materials_at=now - day if released else now + day,
                results_from=timezone.localdate() + 5 * day,
                results_until=timezone.localdate() + 20 * day,
                scale_3=2,
                scale_4=4,
                scale_5=6,
            )
            for label in ["1", "2", "3"]:
                Task.objects.create(work=work, label=label, max=2)
        return procedure

    return make


@pytest.fixture
def imported(db):
    return procedure_import(content=procedure_file()).procedure


@pytest.fixture
def school_org(school):
    from accounts.models import School

    return School.objects.get(region_id="77", code="1234")
