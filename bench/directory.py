"""Directory import and access credentials at national scale (issue 15), in-process.

A file of 40,000 schools, 2,500 municipalities and 82,000 logins (40,000 sch, 39,500 edu, 2,500
municipal) is imported into an empty directory, then again; its preview is timed alone; then a
regional coordinator's credentials for the 2,000 schools of region 77 (sch logins) are made with
the production Argon2id hasher. Timed as the task runs them (the queue's latency is not included).
The figure empties the school directory and its accounts first, inside one transaction that is
rolled back at the end: the generated data of the other figures is kept for the next run.
"""

import io
import time

from django.db import connection, transaction

from .lib import Figure, Target

SCHOOLS, MUNICIPALITIES, REGION_SCHOOLS, EDU = 40_000, 2_500, 2_000, 39_500
HEADER = "Код региона;Код муниципалитета;Муниципалитет;Код ОО;Наименование ОО;НИКО"


def directory_file():
    from accounts.models import Region

    regions = [code for code in Region.objects.values_list("code", flat=True) if code != "77"]
    lines = [HEADER]
    # Region 77: 2,000 schools in 20 municipalities; the other 38,000 over the other regions' 2,480.
    munis = [("77", f"{m:03d}") for m in range(1, 21)]
    munis += [
        (regions[i % len(regions)], f"{100 + i // len(regions):03d}") for i in range(MUNICIPALITIES - 20)
    ]
    for n in range(SCHOOLS):
        region, muni = munis[n % 20] if n < REGION_SCHOOLS else munis[20 + n % (MUNICIPALITIES - 20)]
        niko = "да" if n < EDU else "нет"
        lines.append(f"{region};{muni};Муниципалитет {region}-{muni};{100000 + n};Школа № {n};{niko}")
    return ("\n".join(lines) + "\n").encode()


def empty_directory():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM directory_credentialhandover_accounts")
        cursor.execute("DELETE FROM directory_credentialhandover")
        cursor.execute("DELETE FROM directory_directoryimport")
        cursor.execute(
            "DELETE FROM accounts_user"
            " WHERE role IN ('school', 'school_niko', 'municipal_vpr') AND NOT is_staff"
        )
        cursor.execute("DELETE FROM accounts_school")
        cursor.execute("DELETE FROM accounts_municipality")


def _import(data):
    from directory import services

    started = time.monotonic()
    record = services.import_preview(file=io.BytesIO(data), size=len(data), name="bench.csv", store=False)
    preview = time.monotonic() - started
    started = time.monotonic()
    services.import_start(directory_import=record)
    record = services.import_run(import_id=record.pk, file=io.BytesIO(data), size=len(data))
    assert record.status == "done", record.message
    return preview, time.monotonic() - started, record.report["counts"]


def directory(runs):
    with transaction.atomic():
        result = _directory(runs)
        transaction.set_rollback(True)
    return result


def _directory(runs):
    from accounts.models import User
    from directory import credentials

    data = directory_file()
    first, again, preview, creds = (Figure(n, unit="s") for n in ("first", "again", "preview", "credentials"))
    lines = []
    for _ in range(runs):
        empty_directory()
        p, seconds, counts = _import(data)
        first.values.append(seconds)
        preview.values.append(p)
        p, seconds, again_counts = _import(data)
        again.values.append(seconds)
        assert all(c["created"] == c["changed"] == 0 for c in again_counts.values()), again_counts

        coordinator = User.objects.filter(username="reg77_vpr").first() or User.objects.create_user(
            "reg77_vpr"
        )
        started = time.monotonic()
        handover, _key = credentials.handover_request(coordinator=coordinator, scope="chosen", codes=" ".join(
            str(100000 + n) for n in range(REGION_SCHOOLS)
        ))  # fmt: skip
        handover.accounts.remove(*handover.accounts.filter(role="school_niko"))  # the sch logins: 2,000
        credentials.handover_make(handover_id=handover.pk)
        creds.values.append(time.monotonic() - started)
        handover.refresh_from_db()
        assert handover.status == "ready" and handover.accounts.count() == REGION_SCHOOLS
        handover.file.delete()
    lines.append(
        f"- file: {len(data) / 2**20:.1f} MiB CSV, {SCHOOLS:,} rows; first import created "
        f"{counts['municipalities']['created']:,} municipalities, {counts['schools']['created']:,} schools, "
        f"{counts['accounts']['created']:,} accounts; the second run created and changed nothing"
    )
    lines.append("- credentials: 2,000 sch logins of region 77, Argon2id (19 MiB, t=2), hashed on every core")
    targets = [
        Target("Directory: import into an empty directory", "< 60 s", first, first.median < 60),
        Target("Directory: the same file again (nothing changes)", "< 30 s", again, again.median < 30),
        Target("Directory: preview of the file", "< 20 s", preview, preview.median < 20),
        Target("Directory: credentials for 2,000 schools", "< 60 s", creds, creds.median < 60),
    ]
    return lines, targets, True
