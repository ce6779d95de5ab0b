"""Figures measured in-process with Django's test Client: the cabinet and the operators' list.

Server time here is the time of ``Client.get`` (middleware, view, template), without HTTP; the
same for each page and its floor.
"""

import re
import statistics
import time

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from demo.management.commands.seed_scale import OPERATOR
from helpdesk.models import Ticket

from .lib import Figure, Target

REQUESTS = 30  # per page and run


def timed(client, url):
    """Median time (ms) of REQUESTS GETs, the queries of the last one, and its SQL."""
    times = []
    for _ in range(REQUESTS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), [q["sql"] for q in queries.captured_queries]


def cabinet(runs):
    coordinator = User.objects.get(username="reg77_vpr")
    schools = User.objects.filter(region_id="77", role="school").count()
    client = Client()
    client.force_login(coordinator)
    page, floor = "/cabinet/accounts/", "/bench/base/"
    client.get(page), client.get(floor)  # warm up
    page_ms, floor_ms = Figure("cabinet", unit="ms"), Figure("floor", unit="ms")
    ratio = Figure("ratio", unit="× the floor", digits=2)
    for _ in range(runs):
        t, sql = timed(client, page)
        f, floor_sql = timed(client, floor)
        page_ms.values.append(t)
        floor_ms.values.append(f)
        ratio.values.append(t / f)
    queries = Figure("queries", [len(sql)], digits=0)
    html = client.get(page).content.decode()
    shown = len(re.findall(r'href="/cabinet/accounts/(?:sch|reg)77', html))
    lines = [
        f"`reg77_vpr` (regional ВПР coordinator) opens «Учётные записи»: {schools:,} school accounts in the "
        f"region, {shown} on the first page. In-process (test Client, PostgreSQL), {REQUESTS} requests per "
        f"page and run, {runs} runs; the floor is `/bench/base/` (login required, renders `base.html`).",
        "",
        f"- `/cabinet/accounts/`: {page_ms.text()}, {len(sql)} queries",
        f"- floor: {floor_ms.text()}, {len(floor_sql)} queries (the session comes from Redis, the user "
        "from PostgreSQL)",
        f"- ratio: {ratio.text()}",
    ]
    targets = [
        Target("Cabinet: coordinator's account list, 2,000 schools: queries", "≤ 8", queries, len(sql) <= 8),
        Target("Cabinet: time against the floor", "≤ 3×", ratio, ratio.median <= 3),
    ]
    return lines, targets, schools == 2000


INDEXES = re.compile(
    r"(?:Bitmap Index Scan on|Index (?:Only )?Scan (?:Backward )?using) (\w+)|Seq Scan on (\w+)"
)


def plan_of(sql, setting=None):
    """The indexes (or sequential scans) in the plan of one query, under the SET LOCAL it ran with."""
    with transaction.atomic(), connection.cursor() as cursor:
        if setting:
            cursor.execute(setting)
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    found = []
    for index, table in INDEXES.findall(plan):
        name = index or f"seq scan {table}"
        if name not in found and "accounts_" not in name and "auth_" not in name and "django_" not in name:
            found.append(name)
    return found


def operators(runs):
    client = Client()
    client.force_login(User.objects.get(username=OPERATOR))
    total = Ticket.objects.count()
    latest = Ticket.objects.order_by("-created_at").values("number", "login").first()
    word, common = "Ялуторовск", "Лицей"
    with_word = Ticket.objects.filter(organization_name__icontains=word).count()
    with_common = Ticket.objects.filter(organization_name__icontains=common).count()
    cases = [
        ("default list: the queue, open requests oldest first", "", ["ticket_queue"]),
        ("every status, newest first («Все»)", "?status__exact=all", ["ticket_created"]),
        ("status «Новая» + region 50", "?status__exact=new&region__code__exact=50", ["ticket_region_status"]),
        ("search by number", f"?q={latest['number']}", ["ticket_number_upper"]),
        ("search by login", f"?q={latest['login']}", ["ticket_login_upper"]),
        (
            f"search by a word of the name, «{word}» ({with_word:,} requests)",
            f"?q={word}",
            ["ticket_org_trgm"],
        ),
        (f"search by a common word, «{common}» ({with_common:,} requests)", f"?q={common}", []),
    ]
    lines = [
        f"{total:,} requests (every one with its personal data; none purged). In-process (test Client), an "
        f"operator of the «Операторы техподдержки» group, {REQUESTS} requests per page and run, {runs} runs. "
        "Indexes are those of the list query and of the capped count in `EXPLAIN`.",
        "",
        "| page | server time, ms: median (min–max) | queries | indexes used |",
        "|---|---|---|---|",
    ]
    targets = []
    base = "/admin/helpdesk/ticket/"
    for _, query, _ in cases:
        client.get(base + query)  # warm up
    for name, query, wanted in cases:
        times = Figure(name, unit="ms")
        for _ in range(runs):
            ms, sql = timed(client, base + query)
            times.values.append(ms)
        used, setting = [], None
        for statement in sql:
            if statement.startswith("SET LOCAL"):
                setting = statement  # the capped count's, for the next statement only
            elif "helpdesk_ticket" in statement:
                used += [i for i in plan_of(statement, setting) if i not in used]
                setting = None
        indexed = all(index in used for index in wanted)
        lines.append(f"| {name} | {times.text()} | {len(sql)} | {', '.join(used)} |")
        ok = times.median < 100 and len(sql) <= 10 and indexed
        targets.append(Target(f"Operators' list: {name}", "< 100 ms, ≤ 10 queries", times, ok))
    return lines, targets, True
