"""The demo ВПР: a plan-schedule around today, so that in `make run` the demo school can apply now,
its archives are already released, and the coordinators of region 77 see another school's progress.

Built through ``procedures``' own services (the JSON import, the application, the download), so the
demo goes through the same checks as real data. Re-running moves the dates with today."""

import datetime as dt
import json

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import School, User
from procedures import services
from procedures.importing import procedure_import
from procedures.models import Application, Material, Variant

TITLE = "ВПР 2027 (демонстрация)"
WORKS = [
    (
        "RU4",
        "Русский язык",
        4,
        [("1", 4), ("2", 9), ("3(1)", 1), ("3(2)", 2), ("4", 2), ("5", 1)],
        [8, 12, 16],
    ),
    ("MA5", "Математика", 5, [("1", 1), ("2", 1), ("3", 1), ("4(1)", 2), ("5", 2), ("6", 2)], [4, 6, 8]),
    ("BI6", "Биология", 6, [("1", 2), ("2", 3), ("3", 2), ("4", 3)], [3, 6, 9]),
]
VARIANTS_PER_WORK = 4
# The school that already applied and downloaded, so that «Ход работы ОО» has something to show.
ACTIVE_SCHOOL = "sch770017"


def _file(today):
    def day(shift):
        return (today + dt.timedelta(days=shift)).isoformat()

    stages = [
        ("Публикация плана-графика", "federal", -30, -30),
        ("Заявка на участие", "school", -7, 7),
        ("Проверка заявок ОО", "municipal", -7, 9),
        ("Согласование заявок региона", "regional", -7, 10),
        ("Получение архивов с материалами", "school", -3, 10),
        ("Проведение работ", "school", -2, 10),
        ("Загрузка результатов", "school", -2, 20),
        ("Контроль загрузки результатов", "regional", -2, 22),
    ]
    return {
        "kind": "vpr",
        "title": TITLE,
        "year": 2027,
        "stages": [
            {"title": title, "role": role, "starts": day(start), "ends": day(end)}
            for title, role, start, end in stages
        ],
        "works": [
            {
                "code": code,
                "subject": subject,
                "grade": grade,
                "held_from": day(-2),
                "held_until": day(10),
                "materials_at": f"{day(-3)}T09:00:00+03:00",
                "results_from": day(-2),
                "results_until": day(20),
                "tasks": [{"label": label, "max": most} for label, most in tasks],
                "scale": scale,
            }
            for code, subject, grade, tasks, scale in WORKS
        ],
    }


def seed_procedures():
    today = timezone.localdate()
    procedure = procedure_import(content=json.dumps(_file(today), ensure_ascii=False).encode()).procedure
    released = timezone.now() - dt.timedelta(days=3)
    for work in procedure.works.all():
        for number in range(1, VARIANTS_PER_WORK + 1):
            if not Variant.objects.filter(work=work, number=number).exists():
                text = f"{procedure.title}\n{work}\nВариант {number}\n(демонстрационный файл)\n"
                Variant.objects.create(
                    work=work,
                    number=number,
                    file=ContentFile(text.encode(), name=f"{work.code}-v{number}.txt"),
                )
        Material.objects.get_or_create(
            procedure=procedure,
            work=work,
            title=f"Критерии оценивания: {work}",
            defaults={
                "release_at": released,
                "file": ContentFile(b"criteria\n", name=f"{work.code}-criteria.txt"),
            },
        )
    Material.objects.get_or_create(
        procedure=procedure,
        work=None,
        title="Инструкция для образовательной организации",
        defaults={"release_at": released, "file": ContentFile(b"instructions\n", name="instrukciya-oo.txt")},
    )

    account = User.objects.get(username=ACTIVE_SCHOOL)
    school = School.objects.get(region_id=account.region_id, code=account.school_code)
    if not Application.objects.filter(procedure=procedure, school=school).exists():
        works = {w.code: w for w in procedure.works.all()}
        rows = {works["RU4"]: (48, today), works["MA5"]: (52, today + dt.timedelta(days=1))}
        application = services.application_save(
            procedure=procedure, school=school, by=account, rows=rows, version=0
        )
        line = application.works.get(work=works["RU4"])
        services.archive_download(user=account, line=line)
    return procedure
