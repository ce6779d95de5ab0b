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


# Results (SPEC §8): generated schools of regions 77 and 50 that applied for every work and uploaded
# results, so that «Аналитика» has full reports; a few of them grade generously (many 5s and marks
# above the journal) so that «Признаки необъективности» lists someone. They sit in municipalities of
# their own, so the demo municipal coordinators' «Ход работы ОО» keeps its two schools.
GENERATED_CODE_FROM = 8000
GENEROUS_EVERY = 37
# The demo school that applied but has not uploaded yet: it downloads its form and uploads it.
UPLOADING_SCHOOL = "sch775601"


def _participant_rows(rng, work, tasks, codes, ability, generous):
    """Made-up rows for ``codes``: about one in fifteen absent, points around ``ability``."""
    from results.marks import mark_for
    from results.sheets import Row

    scale = (work.scale_3, work.scale_4, work.scale_5)
    rows = []
    for code in codes:
        if rng.random() < 0.07:
            rows.append(Row(code, f"{work.grade}А", None, None, "", None))
            continue
        skill = min(1.0, max(0.0, rng.gauss(0.92 if generous else ability, 0.18)))
        scores = []
        for task in tasks:
            if rng.random() < 0.04:
                scores.append(None)  # «Х»
            else:
                scores.append(sum(1 for _ in range(task.max) if rng.random() < skill))
        mark = mark_for(sum(s or 0 for s in scores), scale)
        journal = min(5, max(2, mark - 1 if generous else mark + rng.choice([-1, 0, 0, 0, 1])))
        rows.append(
            Row(code, f"{work.grade}{rng.choice('АБВ')}", 1, tuple(scores), rng.choice("МЖ"), journal)
        )
    return rows


def seed_results(procedure, generated=None):
    """Results for the demo ВПР, through ``procedures``' and ``results``' services. Re-running adds
    nothing for schools that have results already."""
    import random

    from django.conf import settings

    from accounts.models import Municipality
    from results import services as result_services
    from results.models import Summary

    generated = settings.DEMO_RESULTS_SCHOOLS if generated is None else generated
    rng = random.Random(2027)
    today = timezone.localdate()
    works = list(procedure.works.prefetch_related("tasks"))
    municipalities = {
        region: Municipality.objects.get_or_create(region_id=region, code=code, defaults={"name": name})[0]
        for region, code, name in [
            ("77", "004", "Северный административный округ"),
            ("50", "013", "Городской округ Химки"),
        ]
    }
    School.objects.bulk_create(
        [
            School(
                region_id=region,
                code=str(GENERATED_CODE_FROM + n),
                name=f"Школа № {GENERATED_CODE_FROM + n} (демонстрационная)",
                municipality=municipalities[region] if n % 3 else None,
            )
            for n in range(generated)
            for region in [("77", "50")[n % 2]]
        ],
        ignore_conflicts=True,
    )
    account = User.objects.get(username=ACTIVE_SCHOOL)
    staff = User.objects.filter(is_superuser=True).first() or account  # who filed the generated applications
    schools = list(
        School.objects.filter(
            code__gte=str(GENERATED_CODE_FROM), code__lt=str(GENERATED_CODE_FROM + generated)
        )
    )
    active = School.objects.get(region_id=account.region_id, code=account.school_code)
    done = set(Summary.objects.filter(work__procedure=procedure).values_list("school_id", "work_id"))
    for school in [active, *schools]:
        application = Application.objects.filter(procedure=procedure, school=school).first()
        if application is None:
            rows = {work: (rng.randint(12, 40), today) for work in works}
            application = services.application_save(
                procedure=procedure, school=school, by=staff, rows=rows, version=0
            )
        ability = rng.uniform(0.35, 0.8)
        generous = school.pk % GENEROUS_EVERY == 0
        for line in application.works.select_related("work", "application__school"):
            if (school.pk, line.work_id) in done:
                continue
            tasks = list(line.work.tasks.all())
            codes = result_services.form_codes(line=line)
            rows = _participant_rows(rng, line.work, tasks, codes, ability, generous)
            result_services.results_store(
                user=account, line=line, rows=rows, filename="demo.xlsx", tasks=tasks
            )

    uploader = User.objects.filter(username=UPLOADING_SCHOOL).first()
    if uploader is not None:
        school = School.objects.filter(region_id=uploader.region_id, code=uploader.school_code).first()
        if school and not Application.objects.filter(procedure=procedure, school=school).exists():
            ma5 = next(w for w in works if w.code == "MA5")
            services.application_save(
                procedure=procedure, school=school, by=uploader, rows={ma5: (12, today)}, version=0
            )
