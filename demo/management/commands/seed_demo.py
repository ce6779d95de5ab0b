from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Municipality, Region, School, User
from cabinet.models import Material, MaterialFile, Tab
from demo.procedures import TITLE, seed_procedures, seed_results

DEMO_PASSWORD = "fisoko-demo-2026"
ADMIN_LOGIN, ADMIN_PASSWORD = "admin", "admin-demo-2026"
OPERATOR_LOGIN, OPERATOR_PASSWORD = "operator", "operator-demo-2026"
OPERATORS_GROUP = "Операторы техподдержки"

MUNICIPALITIES = [
    ("77", "003", "Центральный административный округ"),
    ("50", "012", "Городской округ Балашиха"),
]
SCHOOLS = [
    ("77", "1234", "ГБОУ «Школа № 1234»", "003"),
    ("77", "0017", "ГБОУ «Лицей № 17»", "003"),
    ("77", "5601", "ГБОУ «Гимназия № 56»", None),
    ("50", "0101", "МБОУ «Средняя общеобразовательная школа № 1»", "012"),
    ("50", "0102", "МБОУ «Гимназия № 2»", "012"),
    ("50", "0240", "МАОУ «Лицей № 24»", None),
]
ACCOUNTS = [
    "reg77_vpr",
    "reg77_vpr_m003",
    "niko_77",
    "spo_coord_77",
    "reg77_kko",
    "sch771234",
    "sch770017",
    "sch775601",
    "edu771234",
    "reg50_vpr",
    "reg50_vpr_m012",
    "niko_50",
    "spo_coord_50",
    "reg50_kko",
    "sch500101",
    "sch500102",
    "sch500240",
    "edu500101",
]
MATERIALS = [
    (Tab.HOME, "Открыт доступ к личным кабинетам", "Личные кабинеты ФИС ОКО открыты для работы.", [], []),
    (
        Tab.VPR,
        "План-график проведения ВПР",
        "Сроки проведения ВПР и загрузки результатов.",
        ["regional_vpr", "municipal_vpr", "school"],
        [],
    ),
    (
        Tab.NIKO,
        "Инструкция для организаторов НИКО",
        "Порядок проведения НИКО в образовательной организации.",
        ["regional_niko", "school_niko"],
        [],
    ),
    (Tab.SPO, "Мониторинг СПО: порядок работы", "Материалы для координаторов СПО.", ["regional_spo"], []),
    (Tab.KKO, "ФГККО: график оценочных процедур", "Материалы ФГККО.", ["regional_kko", "school"], []),
    (
        Tab.ANALYTICS,
        "Аналитические отчёты по результатам ВПР",
        "Отчёты доступны во вкладке «Аналитика».",
        [],
        [],
    ),
    (Tab.HOME, "Совещание для координаторов Московской области", "Только для региона 50.", [], ["50"]),
    (Tab.SUPPORT, "Режим работы технической поддержки", "Заявки принимаются круглосуточно.", [], []),
]


class Command(BaseCommand):
    help = (
        "Create demo accounts of every role in two regions, schools, materials and a demo ВПР whose "
        "schedule sits around today (idempotent)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo creates accounts with published passwords: refused with DEBUG off.")
        municipalities = {}
        for region, code, name in MUNICIPALITIES:
            municipalities[region, code], _ = Municipality.objects.get_or_create(
                region_id=region, code=code, defaults={"name": name}
            )
        for region, code, name, municipality in SCHOOLS:
            School.objects.get_or_create(
                region_id=region,
                code=code,
                defaults={"name": name, "municipality": municipalities.get((region, municipality))},
            )
        for login in ACCOUNTS:
            if not User.objects.filter(username=login).exists():
                User.objects.create_user(login, password=DEMO_PASSWORD)
        if not User.objects.filter(username=ADMIN_LOGIN).exists():
            User.objects.create_superuser(ADMIN_LOGIN, password=ADMIN_PASSWORD)
        if not User.objects.filter(username=OPERATOR_LOGIN).exists():
            operator = User.objects.create_user(OPERATOR_LOGIN, password=OPERATOR_PASSWORD, is_staff=True)
            operator.groups.add(Group.objects.get(name=OPERATORS_GROUP))
        for tab, title, text, roles, regions in MATERIALS:
            material, created = Material.objects.get_or_create(tab=tab, title=title, defaults={"text": text})
            if created:
                material.roles.set(roles)
                material.regions.set(Region.objects.filter(code__in=regions))
                if tab == Tab.VPR:
                    MaterialFile.objects.create(
                        material=material,
                        title="План-график (текст)",
                        file=ContentFile(f"{title}\n{text}\n".encode(), name="plan-grafik-vpr.txt"),
                    )
        seed_results(seed_procedures())
        self.stdout.write(
            f"Demo data ready: {len(ACCOUNTS)} cabinet accounts (password {DEMO_PASSWORD}), "
            f"superuser {ADMIN_LOGIN} / {ADMIN_PASSWORD}, operator {OPERATOR_LOGIN} / {OPERATOR_PASSWORD}, "
            f"«{TITLE}» open for applications."
        )
