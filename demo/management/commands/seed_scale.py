"""Data at national scale for the benchmarks (bench/), loaded with PostgreSQL COPY.

Schools with one account each, municipal and regional coordinators, a million requests with
one attachment row each, and one ВПР of 20 works with 400,000 application lines, 1,200,000 archive
downloads and the results uploads of «Ход работы ОО», and the schools' result summaries that
«Аналитика» reads (about 10,000,000 participants). Idempotent: a part already holding what
was asked for is left alone, so a second ``make bench`` skips the load. Every request keeps its
personal data (none is purged): the worst case for the operators' search.
"""

import io
import json
import random
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Municipality, Region, School, User
from helpdesk.models import NUMBER_ALPHABET, Attachment, Ticket
from procedures.importing import procedure_import
from procedures.models import Application, ApplicationWork, ArchiveDownload, Procedure, ResultUpload
from results.models import Summary

PASSWORD = "bench-password-2026"
OPERATOR = "bench_operator"
CROWDED_REGION = "77"  # the region whose coordinator's cabinet is measured
SCALE_PROCEDURE = "ВПР (нагрузочный тест)"
BATCH = 100_000

KINDS = [
    ("МБОУ", "Средняя общеобразовательная школа"),
    ("МАОУ", "Лицей"),
    ("ГБОУ", "Гимназия"),
    ("МКОУ", "Основная общеобразовательная школа"),
    ("ГБПОУ", "Колледж"),
    ("ГАПОУ", "Техникум"),
]
PLACES = [
    "Абакан", "Альметьевск", "Ангарск", "Арзамас", "Армавир", "Бийск", "Братск", "Волжский",
    "Воркута", "Дербент", "Ейск", "Елабуга", "Златоуст", "Ишим", "Камышин", "Канаш", "Кинешма",
    "Ковров", "Котлас", "Кунгур", "Курган", "Лысьва", "Миасс", "Мичуринск", "Муром", "Назрань",
    "Нальчик", "Норильск", "Ноябрьск", "Обнинск", "Октябрьский", "Печора", "Прокопьевск", "Ржев",
    "Рубцовск", "Салават", "Сарапул", "Серов", "Соликамск", "Сызрань", "Тобольск", "Туймазы",
    "Ухта", "Шадринск", "Щёкино", "Юрга", "Ялуторовск", "Ярцево",
]  # fmt: skip
STATUSES_RECENT = ["new", "in_progress", "waiting", "done", "rejected"]  # the last two weeks' mix
CLOSING_HOURS = 20  # mean time from filing to closing: the dashboard's medians and closed per day


def school_name(n):
    kind, title = KINDS[n % len(KINDS)]
    return f"{kind} «{title} № {n % 200 + 1}» г. {PLACES[n % len(PLACES)]}"


def ticket_number(i):
    """Distinct for distinct i < 31**8, and not in order: i scaled by a unit modulo 31**8."""
    size = len(NUMBER_ALPHABET)
    value = (i * 1_000_003 + 12_345) % size**8
    chars = []
    for _ in range(8):
        value, digit = divmod(value, size)
        chars.append(NUMBER_ALPHABET[digit])
    return f"{''.join(chars[:4])}-{''.join(chars[4:])}"


def copy_rows(table, columns, rows):
    """COPY ``rows`` (tuples of str, None for NULL) into ``table`` in batches."""
    with connection.cursor() as cursor:
        buffer, count = io.StringIO(), 0
        for row in rows:
            buffer.write("\t".join(r"\N" if v is None else v for v in row))
            buffer.write("\n")
            count += 1
            if count % BATCH == 0:
                _flush(cursor, table, columns, buffer)
                buffer = io.StringIO()
        _flush(cursor, table, columns, buffer)
    return count


def _flush(cursor, table, columns, buffer):
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


@contextmanager
def indexes_dropped(*tables):
    """Drop the tables' plain indexes for a bulk load and build them again after: several times faster."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)",
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
        yield
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign-key checks run now
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)


class Command(BaseCommand):
    help = "Load schools, accounts and requests at national scale with COPY (PostgreSQL; idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--schools", type=int, default=40_000)
        parser.add_argument(
            "--region-schools", type=int, default=2_000, help=f"of them in region {CROWDED_REGION}"
        )
        parser.add_argument("--municipalities", type=int, default=10, help="per region")
        parser.add_argument("--requests", type=int, default=1_000_000)
        parser.add_argument("--procedure-works", type=int, default=20)
        parser.add_argument("--application-works", type=int, default=400_000)
        parser.add_argument("--downloads", type=int, default=1_200_000)

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_scale makes accounts with a published password: refused, DEBUG is off.")
        if connection.vendor != "postgresql":
            raise CommandError("seed_scale loads with PostgreSQL COPY: DATABASE_URL must name PostgreSQL.")
        started = time.monotonic()
        self.password = make_password(PASSWORD)
        self.now = timezone.now()
        with transaction.atomic():
            self.directory(options["schools"], options["region_schools"], options["municipalities"])
        with transaction.atomic():
            self.requests(options["requests"])
        with transaction.atomic():
            self.procedure(options["procedure_works"], options["application_works"], options["downloads"])
        with transaction.atomic():
            self.results()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(f"seed_scale done in {time.monotonic() - started:.1f} s")

    def directory(self, schools, region_schools, municipalities):
        if School.objects.count() >= schools:
            self.stdout.write(f"schools: {School.objects.count()} already there, skipped")
            return
        User.objects.filter(is_staff=False).delete()
        School.objects.all().delete()
        Municipality.objects.all().delete()
        regions = list(Region.objects.values_list("code", flat=True))
        others = [r for r in regions if r != CROWDED_REGION]
        Municipality.objects.bulk_create(
            Municipality(region_id=r, code=f"{m:03d}", name=f"Муниципальный район № {m} ({r})")
            for r in regions
            for m in range(1, municipalities + 1)
        )
        municipality_ids = {(m.region_id, m.code): m.pk for m in Municipality.objects.all()}
        placed = [CROWDED_REGION] * region_schools + [
            others[n % len(others)] for n in range(schools - region_schools)
        ]
        codes = {}
        school_rows = []
        for n, region in enumerate(placed):
            codes[region] = codes.get(region, 0) + 1
            municipality = municipality_ids.get((region, f"{codes[region] % municipalities + 1:03d}"))
            school_rows.append((region, f"{codes[region]:06d}", school_name(n), str(municipality)))
        copy_rows("accounts_school", ["region_id", "code", "name", "municipality_id"], school_rows)

        def user(login, role, region, municipality_code="", school_code=""):
            joined = self.now.isoformat()
            return (self.password, login, "", "", "", "f", "f", "t", joined, role, region,
                    municipality_code, school_code, "f")  # fmt: skip

        users = [user(f"sch{r}{code}", "school", r, school_code=code) for r, code, _, _ in school_rows]
        users += [user(f"reg{r}_vpr", "regional_vpr", r) for r in regions]
        users += [
            user(f"reg{r}_vpr_m{m:03d}", "municipal_vpr", r, municipality_code=f"{m:03d}")
            for r in regions
            for m in range(1, municipalities + 1)
        ]
        columns = ["password", "username", "first_name", "last_name", "email", "is_superuser", "is_staff",
                   "is_active", "date_joined", "role", "region_id", "municipality_code", "school_code",
                   "must_change_password"]  # fmt: skip
        count = copy_rows("accounts_user", columns, users)
        if not User.objects.filter(username=OPERATOR).exists():
            operator = User.objects.create_user(OPERATOR, password=PASSWORD, is_staff=True)
            operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
        self.stdout.write(f"schools: {len(school_rows)}, accounts: {count}")

    def requests(self, total):
        # Requests filed after the load (the benchmarks file some) go; the loaded ones stay.
        Ticket.objects.filter(pk__gt=total).delete()
        # A load from before closed_at and due_at existed is made again: the dashboard reads them.
        if Ticket.objects.count() == total and Ticket.objects.filter(closed_at__isnull=False).exists():
            self.stdout.write(f"requests: {total} already there, skipped")
            return
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE helpdesk_ticket RESTART IDENTITY CASCADE")
        schools = list(School.objects.values_list("region_id", "code", "name"))
        rng = random.Random(8)
        span = timedelta(days=365).total_seconds()

        def tickets():
            for i in range(total):
                region, code, name = schools[rng.randrange(len(schools))]
                created = self.now - timedelta(seconds=span * (total - i) / total)
                recent = self.now - created < timedelta(days=14)
                if recent:
                    status = rng.choice(STATUSES_RECENT)
                else:
                    status = "done" if rng.random() < 0.85 else "rejected"
                at = created.isoformat()
                # Closed some hours after filing (never in the future); due one day after filing, the
                # default HELPDESK_ANSWER_DAYS without the weekends: the open ones filed earlier are late.
                closed = None
                if status in ("done", "rejected"):
                    took = timedelta(hours=rng.expovariate(1 / CLOSING_HOURS))
                    closed = min(created + took, self.now).isoformat()
                due = (created + timedelta(days=1)).isoformat()
                waiting = at if status == "waiting" else None
                yield (str(i + 1), ticket_number(i), status, name, "fis_oko", region, f"+7912{i:07d}",
                       f"school{i}@example.ru", "school", f"sch{region}{code}", "school",
                       "Иванова Мария Петровна", "Петров Пётр Петрович", "lost", "Замена пароля",
                       "Скан не читается" if status == "rejected" else "", at, at, closed, due,
                       waiting, "f", "f")  # fmt: skip

        columns = ["id", "number", "status", "organization_name", "information_system", "region_id", "phone",
                   "email", "organization_type", "login", "role", "person_name", "head_name", "reason",
                   "description", "rejection_reason", "created_at", "updated_at", "closed_at", "due_at",
                   "waiting_since", "password_sms_failed", "answered"]  # fmt: skip
        with indexes_dropped(Ticket._meta.db_table, Attachment._meta.db_table):
            count = copy_rows(Ticket._meta.db_table, columns, tickets())
            copy_rows(
                Attachment._meta.db_table,
                ["ticket_id", "file", "original_name", "size", "content_type"],
                (
                    (str(i), f"tickets/bench-{i}.pdf", "scan.pdf", "250000", "application/pdf")
                    for i in range(1, count + 1)
                ),
            )
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('helpdesk_ticket', 'id'), %s)", [count])
        self.stdout.write(f"requests: {count}, attachments: {count}")

    def procedure(self, works, application_works, downloads):
        """One ВПР of ``works`` works: every 20th school files no application, the others take 10 or
        11 works (``application_works`` lines in all); 4 lines in 5 have their archive downloaded, with
        ``downloads`` download records among them, and half of those their results uploaded."""
        if (
            ApplicationWork.objects.filter(application__procedure__title=SCALE_PROCEDURE).count()
            == application_works
        ):
            self.stdout.write(f"application lines: {application_works} already there, skipped")
            return
        Procedure.objects.filter(title=SCALE_PROCEDURE).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE procedures_applicationchange, procedures_applicationwork, procedures_application, "
                "procedures_archivedownload, procedures_resultupload, procedures_participantcode "
                "RESTART IDENTITY CASCADE"
            )
        today = timezone.localdate()
        day = today.isoformat()
        subjects = ["Русский язык", "Математика", "Окружающий мир", "История", "Биология", "География",
                    "Обществознание", "Физика", "Химия", "Английский язык"]  # fmt: skip
        spec = {
            "kind": "vpr",
            "title": SCALE_PROCEDURE,
            "year": today.year,
            "stages": [{"title": "Заявка на участие", "role": "school", "starts": day, "ends": day}],
            "works": [
                {
                    "code": f"W{n:02d}",
                    "subject": subjects[n % len(subjects)],
                    "grade": 4 + n // len(subjects),
                    "held_from": day,
                    "held_until": day,
                    "materials_at": f"{day}T09:00:00+03:00",
                    "results_from": day,
                    "results_until": day,
                    "tasks": [{"label": str(t + 1), "max": 2} for t in range(10)],
                    "scale": [5, 10, 15],
                }
                for n in range(works)
            ],
        }
        procedure = procedure_import(content=json.dumps(spec).encode()).procedure
        work_ids = list(procedure.works.order_by("code").values_list("pk", flat=True))
        schools = list(School.objects.order_by("pk").values_list("pk", "region_id", "code"))
        accounts = dict(User.objects.filter(role="school").values_list("username", "pk"))
        applied = [s for i, s in enumerate(schools) if i % 20 != 19]
        extra = application_works - 10 * len(applied)  # this many schools take an 11th work
        rng = random.Random(13)
        at = self.now.isoformat()
        copy_rows(
            Application._meta.db_table,
            ["id", "procedure_id", "school_id", "version", "updated_at"],
            ((str(j + 1), str(procedure.pk), str(s[0]), "1", at) for j, s in enumerate(applied)),
        )
        lines, downloads_rows, uploads = [], [], []
        per_line = downloads / max(1, application_works * 4 // 5)  # download records per downloaded line
        owed = 0.0
        for j, (school_id, region, code) in enumerate(applied):
            for k in range(11 if j < extra else 10):
                work_id = work_ids[(j + k) % len(work_ids)]
                n = len(lines)
                downloaded = n % 5 != 0
                first = (self.now - timedelta(minutes=rng.randrange(60 * 24 * 3))) if downloaded else None
                uploaded = downloaded and n % 2 == 0
                lines.append((str(j + 1), str(work_id), str(rng.randrange(10, 121)), day,
                              first.isoformat() if first else None, at if uploaded else None))  # fmt: skip
                if downloaded:
                    owed += per_line
                    account = str(accounts.get(f"sch{region}{code}", "")) or None
                    while owed >= 1:
                        owed -= 1
                        downloads_rows.append((account, f"sch{region}{code}", str(school_id), str(work_id),
                                               "archive", first.isoformat()))  # fmt: skip
                    if uploaded:
                        uploads.append((str(school_id), str(work_id), at))
        tables = [ApplicationWork._meta.db_table, ArchiveDownload._meta.db_table, ResultUpload._meta.db_table]
        with indexes_dropped(*tables):
            count = copy_rows(
                tables[0],
                [
                    "application_id",
                    "work_id",
                    "participants",
                    "day",
                    "archive_downloaded_at",
                    "results_uploaded_at",
                ],
                lines,
            )
            copied = copy_rows(
                tables[1], ["account_id", "username", "school_id", "work_id", "what", "at"], downloads_rows
            )
            copy_rows(tables[2], ["school_id", "work_id", "uploaded_at"], uploads)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('procedures_application', 'id'), %s)", [len(applied)]
            )
        self.stdout.write(
            f"procedure: {works} works, {len(applied)} applications, {count} application lines, "
            f"{copied} downloads, {len(uploads)} uploads"
        )

    def results(self):
        """The results of every application line of the ВПР as the schools' ``Summary`` rows (what
        «Аналитика» reads): 10 to 40 participants a line, some 10,000,000 in all. The participants'
        own rows are not generated: no report reads them, and the upload measured writes its own."""
        procedure = Procedure.objects.get(title=SCALE_PROCEDURE)
        lines = ApplicationWork.objects.filter(application__procedure=procedure)
        if Summary.objects.filter(work__procedure=procedure).count() == lines.count():
            self.stdout.write("results: already there, skipped")
            return
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Summary._meta.db_table} RESTART IDENTITY")
        works = {w.pk: w for w in procedure.works.prefetch_related("tasks")}
        rng = random.Random(14)
        at = self.now.isoformat()
        total = 0
        pools = {}

        def pool(work):
            """Prefix sums over 10 pools of 2,000 made-up participants (weak to strong): a line takes
            a run of one pool, so its sums cost a subtraction instead of a loop over participants."""
            maxima = tuple(t.max for t in work.tasks.all())
            key = (maxima, work.scale_3, work.scale_4, work.scale_5)
            if key not in pools:
                width = len(maxima) + sum(maxima) + 1 + 4 + 1
                made = []
                for level in range(10):
                    skill = 0.3 + 0.06 * level
                    prefix = [[0] * width]
                    for _ in range(2000):
                        points = [sum(1 for _ in range(m) if rng.random() < skill) for m in maxima]
                        primary = sum(points)
                        mark = (
                            5
                            if primary >= key[3]
                            else 4
                            if primary >= key[2]
                            else 3
                            if primary >= key[1]
                            else 2
                        )
                        row = list(prefix[-1])
                        for n, p in enumerate(points):
                            row[n] += p
                        row[len(maxima) + primary] += 1
                        row[len(maxima) + sum(maxima) + 1 + mark - 2] += 1
                        row[-1] += primary
                        prefix.append(row)
                    made.append(prefix)
                pools[key] = (len(maxima), sum(maxima) + 1, made)
            return pools[key]

        def rows():
            nonlocal total
            for school_id, region, municipality, work_id in lines.values_list(
                "application__school_id",
                "application__school__region_id",
                "application__school__municipality_id",
                "work_id",
            ).iterator(chunk_size=20_000):
                tasks, buckets, made = pool(works[work_id])
                present, absent = rng.randint(10, 40), rng.randint(0, 3)
                total += present + absent
                prefix = made[rng.randrange(10)]
                start = rng.randrange(len(prefix) - present)
                sums = [b - a for a, b in zip(prefix[start], prefix[start + present], strict=True)]
                marks = sums[tasks + buckets : tasks + buckets + 4]
                lowered = present // 5
                raised = rng.randint(0, present // 4)
                yield (
                    str(work_id), str(school_id), region, str(municipality) if municipality else None,
                    str(present), str(absent), *(str(m) for m in marks),
                    str(lowered), str(present - lowered - raised), str(raised), str(sums[-1]),
                    json.dumps(sums[:tasks]), json.dumps(sums[tasks : tasks + buckets]), at, "seed_scale",
                    "seed.xlsx",
                )  # fmt: skip

        columns = [
            "work_id", "school_id", "region_id", "municipality_id", "participants", "absent",
            "marks_2", "marks_3", "marks_4", "marks_5", "lowered", "confirmed", "raised", "score_sum",
            "tasks", "scores", "uploaded_at", "uploaded_by", "filename",
        ]  # fmt: skip
        with indexes_dropped(Summary._meta.db_table):
            count = copy_rows(Summary._meta.db_table, columns, rows())
        self.stdout.write(f"results: {count} school summaries of {total} participants")
