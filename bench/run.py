"""`make bench`: data at national scale, then every figure against its target; writes bench/REPORT.md.

PostgreSQL and Redis are the servers of DATABASE_URL / REDIS_URL (by default the local ones), with a
database and a Redis database number of their own: fisoko_bench (created if missing) and 8, since the
generator replaces the accounts and the bench purges its Celery queue. BENCH_DATABASE_URL and
BENCH_REDIS_URL name them outright. Everything else — gunicorn, a Celery worker, SMTP, SMSC and clamd
servers — is started here on loopback and stopped at the end.

    make bench                              # everything
    BENCH_ONLY=login,cabinet make bench     # some figures (the report keeps only what ran)
    BENCH_RUNS=5 make bench                 # runs per figure (default 3)
"""

import os
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def own(url, path):
    """The server of ``url`` with a database of the bench's own."""
    return urlunsplit(urlsplit(url)._replace(path=path))


DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or own(
    os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432", "/fisoko_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or own(
    os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379", "/8"
)
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SCALE = {"schools": 40_000, "region_schools": 2_000, "requests": 1_000_000}
FIGURES = [
    "login",
    "cabinet",
    "submission",
    "operators",
    "notifications",
    "progress",
    "results",
    "desk",
    "directory",
]
ONLY = [f for f in os.environ.get("BENCH_ONLY", ",".join(FIGURES)).split(",") if f]
REPORT = BASE_DIR / "bench" / "REPORT.md"

ENV = {
    **os.environ,
    "PYTHONPATH": str(BASE_DIR),
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    # Nobody real is served: mail and SMS may stay on this host (files under var/).
    "ALLOW_LOCAL_DELIVERY": "1",
    # The operators' pages are measured, not their second factor (DEBUG=0 would ask for it).
    "STAFF_OTP_REQUIRED": "0",
    "HELPDESK_APPLY_LIMIT": "1000000000",
    "HELPDESK_EMAIL_PER_ADDRESS_DAY": "1000000000",  # every filing queues its email, as measured
    "HELPDESK_APPLY_POST_LIMIT": "1000000000",
    "MEDIA_ROOT": str(BASE_DIR / "var" / "bench-media"),
    "LOG_LEVEL": "WARNING",
    "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
}


def manage(*args, **extra_env):
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**ENV, **extra_env}, check=True)


def create_database():
    import psycopg2

    url = urlsplit(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(url._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def prepare():
    """Database, schema, static files and data at scale; returns the generator's seconds."""
    create_database()
    manage("migrate", "-v0")
    manage("collectstatic", "--noinput", "-v0")
    started = time.monotonic()
    if ONLY == ["directory"]:  # it builds its own directory
        return 0.0
    # seed_scale refuses with DEBUG off: its accounts share one published password.
    manage(
        "seed_scale",
        f"--schools={SCALE['schools']}",
        f"--region-schools={SCALE['region_schools']}",
        # BENCH_REQUESTS=0 for a run of figures that read no requests (they take minutes to load).
        f"--requests={os.environ.get('BENCH_REQUESTS', SCALE['requests'])}",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="fisoko_portal.settings",
    )
    return time.monotonic() - started


def machine():
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    import psycopg2

    with psycopg2.connect(DATABASE_URL) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{os.cpu_count()} CPUs ({model}), PostgreSQL {pg}, Python {sys.version.split()[0]}"


KEPT = ("Notes", "Load test")  # sections written by hand, and by `make load`: a run leaves them


def write_report(sections, targets, header):
    text = REPORT.read_text() if REPORT.exists() else ""
    kept = ["## " + part.rstrip() + "\n" for part in text.split("\n## ")[1:] if part.startswith(KEPT)]
    rows = ["| target | wanted | measured: median (min–max over runs) | |", "|---|---|---|---|"]
    rows += [t.row() for t in targets]
    body = ["# Benchmarks and load tests", "", "## Benchmarks (`make bench`)", "", *header, "", *rows, ""]
    for title, lines in sections:
        body += [f"### {title}", "", *lines, ""]
    REPORT.write_text("\n".join([*body, *kept]).rstrip() + "\n")


def main():
    os.environ.update(ENV)
    started = time.monotonic()
    seed_seconds = prepare()
    import django

    django.setup()
    from django.db import connection

    from . import desk, directory, notify, pages, procedures, results, web

    sections, targets, clean = [], [], True
    with ExitStack() as stack:
        clamd_socket = None
        if "submission" in ONLY and Path("/usr/sbin/clamd").exists() and os.environ.get("BENCH_CLAMD") != "0":
            from tests.clamd_server import running_clamd

            clamd_socket, _ = stack.enter_context(running_clamd())
        plan = [
            ("login", "Login storm", lambda: web.login_storm(ENV, RUNS)),
            ("cabinet", "Cabinet of a regional coordinator", lambda: pages.cabinet(RUNS)),
            (
                "submission",
                "Submission with large attachments",
                lambda: web.submission(ENV, RUNS, clamd_socket),
            ),
            ("operators", "Operators' list at a million requests", lambda: pages.operators(RUNS)),
            ("notifications", "Notifications", lambda: notify.notifications(ENV, RUNS)),
            ("progress", "«Ход работы ОО» at national scale", lambda: procedures.progress(RUNS)),
            ("results", "Results and «Аналитика» at national scale", lambda: results.results(RUNS)),
            ("desk", "The desk: «Сводка», email in, the .xlsx", lambda: desk.desk(ENV, RUNS)),
            # Last: it empties the school directory and its accounts (in a transaction rolled back).
            ("directory", "Directory import and access credentials", lambda: directory.directory(RUNS)),
        ]
        for key, title, figure in plan:
            if key not in ONLY:
                continue
            print(f"bench: {title} …", flush=True)
            lines, found, ok = figure()
            connection.close()
            sections.append((title, lines))
            targets += found
            clean = clean and ok
            for target in found:
                print("   ", target.row(), flush=True)
    elapsed = time.monotonic() - started
    header = [
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}; shared with other work, "
        "so every comparison is a ratio measured side by side in the same run",
        f"- data: {SCALE['schools']:,} schools ({SCALE['region_schools']:,} in region 77), one account each, "
        f"{SCALE['requests']:,} requests with one attachment row each, one ВПР of 20 works with 400,000 "
        "application lines and 1,200,000 download records; generator `manage.py seed_scale` "
        f"(COPY): {seed_seconds:.0f} s this run (it skips data already there)",
        f"- {RUNS} runs per figure; `make bench` took {elapsed / 60:.1f} min in all",
        f"- targets met: {sum(t.met for t in targets)} of {len(targets)}"
        + ("" if clean else "; SOME REQUESTS FAILED, see below"),
    ]
    write_report(sections, targets, header)
    print(f"bench: done in {elapsed:.0f} s; wrote {REPORT.relative_to(BASE_DIR)}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
