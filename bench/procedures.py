"""«Ход работы ОО» at national scale, in-process with Django's test Client: the regional
coordinator's page for region 77 (2,000 schools) with each filter, the staff's all-regions view in
the admin, and the region's .xlsx with the process's peak memory growth."""

import time
from pathlib import Path

from django.test import Client, override_settings

from accounts.models import School, User
from demo.management.commands.seed_scale import SCALE_PROCEDURE
from procedures.models import ApplicationWork, ArchiveDownload, Procedure

from .lib import Figure, Target
from .pages import timed


def _status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _xlsx_once(client, url):
    """Seconds to the last byte of the .xlsx, and the process's peak resident memory growth (MiB):
    the peak (VmHWM) is reset to the current RSS first by writing 5 to /proc/self/clear_refs."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    response = client.get(url)
    size = sum(len(chunk) for chunk in response.streaming_content)
    seconds = time.perf_counter() - started
    assert response.status_code == 200 and size > 0
    return seconds, (_status_kib("VmHWM") - before) / 1024, size


def progress(runs):
    procedure = Procedure.objects.get(title=SCALE_PROCEDURE)
    coordinator = User.objects.get(username="reg77_vpr")
    schools = School.objects.filter(region_id="77").count()
    lines = ApplicationWork.objects.filter(application__procedure=procedure).count()
    downloads = ArchiveDownload.objects.count()
    client = Client()
    client.force_login(coordinator)
    base = f"/cabinet/procedures/{procedure.pk}/progress/"
    first = School.objects.filter(region_id="77").order_by("code").first()
    work = procedure.works.order_by("code").first()
    cases = [
        ("default page", ""),
        ("«не подали заявку»", "?filter=no_application"),
        ("«не скачали архив»", "?filter=no_archive"),
        ("«не загрузили результаты»", "?filter=no_results"),
        (f"one work ({work.code}), «не скачали архив»", f"?filter=no_archive&work={work.pk}"),
        (f"search by code «77{first.code}»", f"?q=77{first.code}"),
        ("search by a word of the name, «Лицей»", "?q=Лицей"),
    ]
    for _, query in cases:
        client.get(base + query)
    client.get("/bench/base/")
    body = [
        f"`reg77_vpr` opens «Ход работы ОО» of «{SCALE_PROCEDURE}» ({procedure.works.count()} works): "
        f"{schools:,} schools in region 77; {lines:,} application lines and {downloads:,} download records "
        f"over all 40,000 schools. In-process (test Client, PostgreSQL), 30 requests per page and run, "
        f"{runs} runs. Every page carries the area's totals (two queries) and 50 rows.",
        "",
        "| page | server time, ms: median (min–max) | queries |",
        "|---|---|---|",
    ]
    targets = []
    floor = Figure("floor", unit="ms")
    for _ in range(runs):
        floor.values.append(timed(client, "/bench/base/")[0])
    for name, query in cases:
        times = Figure(name, unit="ms")
        for _ in range(runs):
            ms, sql = timed(client, base + query)
            times.values.append(ms)
        body.append(f"| {name} | {times.text()} | {len(sql)} |")
        ok = times.median < 150 and len(sql) <= 10
        targets.append(Target(f"«Ход работы ОО», region 77: {name}", "< 150 ms, ≤ 10 queries", times, ok))
    body.append(f"| floor (`/bench/base/`) | {floor.text()} | |")

    # The staff's view across every region, in the admin (the second factor is not what is measured).
    staff, _ = User.objects.get_or_create(
        username="bench_admin", defaults={"is_staff": True, "is_superuser": True}
    )
    admin = Client()
    admin.force_login(staff)
    staff_url = f"/admin/procedures/procedure/{procedure.pk}/progress/"
    with override_settings(STAFF_OTP_REQUIRED=False):
        admin.get(staff_url)
        every = Figure("all regions", unit="ms")
        for _ in range(runs):
            ms, sql = timed(admin, staff_url)
            every.values.append(ms)
    body.append("")
    body.append(f"- staff, all regions (40,000 schools, default page): {every.text()}, {len(sql)} queries")
    targets.append(Target("«Ход работы ОО», staff, all regions", "< 500 ms", every, every.median < 500))

    xlsx_url = f"/cabinet/procedures/{procedure.pk}/progress.xlsx"
    _xlsx_once(client, xlsx_url)  # warm up: imports, caches
    seconds, growth = Figure("xlsx", unit="s", digits=2), Figure("memory", unit="MiB")
    for _ in range(runs):
        s, mib, size = _xlsx_once(client, xlsx_url)
        seconds.values.append(s)
        growth.values.append(mib)
    body.append(
        f"- .xlsx of region 77 ({schools:,} rows × {2 * procedure.works.count() + 5} columns, "
        f"{size / 1e6:.1f} MB): "
        f"{seconds.text()} to the last byte; the process's peak resident memory grows by {growth.text()} "
        "(VmHWM reset through /proc/self/clear_refs before each; after one warm-up download)"
    )
    targets += [
        Target("«Ход работы ОО» .xlsx, 2,000 schools: time", "< 2 s", seconds, seconds.median < 2),
        Target("«Ход работы ОО» .xlsx: peak memory growth", "< 32 MiB", growth, max(growth.values) < 32),
    ]
    return body, targets, schools == 2000
