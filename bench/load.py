"""A bounded load test on loopback: N clients for T seconds against gunicorn, PostgreSQL and Redis.

Two scenarios, each on a fresh database:

- ``requests``: each client logs in as its own school, opens the cabinet and the account list, files
  a request with a PDF attachment and logs out, over and over. At the end the number of success pages
  must equal the number of requests stored, and no response may be an error.
- ``release``: the release moment of a ВПР's archives. Each client is a school that applied for its
  works; all log in first, the works' ``materials_at`` is then set a few seconds ahead, and each
  client opens the ВПР tab and downloads every archive link it shows, over and over. Measured: the
  tab page's latency, the archive's first byte and full download; at the end every school's codes,
  downloads and «скачан» stamps must be in the database.

    make load            # both; 50 and 100 clients, 60 s each
    LOAD_SCENARIO=release make load   # one of them; LOAD_CLIENTS / LOAD_SECONDS change the size
"""

import http.client
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("LOAD_PORT", "8077"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
PG = os.environ.get("LOAD_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("LOAD_DB", "fisoko_load")
# A Redis database of its own: the tasks queued here have no worker and are dropped afterwards.
REDIS = os.environ.get("LOAD_REDIS", "redis://127.0.0.1:6379/5")
PASSWORD = "load-test-password-1"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n" + b"0" * 100_000 + b"\n%%EOF\n"
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ARCHIVE_LINK = re.compile(rb'href="(/cabinet/procedures/works/\d+/archive/)"')
# The release scenario's procedure: its works, the variants each has (a school's archive carries two),
# each variant's size (random bytes, as incompressible as a real PDF), and participants per line.
RELEASE_WORKS = [("RU4", "Русский язык", 4), ("MA5", "Математика", 5)]
RELEASE_VARIANTS, RELEASE_VARIANT_MB, RELEASE_PARTICIPANTS = 4, 3, 25
# gunicorn's threads per worker: 1 is the sync worker; more runs gthread workers.
THREADS = int(os.environ.get("LOAD_THREADS", "1"))
RELEASE_AFTER = 3  # seconds from the clients' start to the release moment


class Client:
    """One browser: its own connection and cookies."""

    def __init__(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        self.cookies = {}

    def request(self, method, path, body=None, content_type=None):
        headers = {"Host": "127.0.0.1", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if content_type:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location", ""), data

    def download(self, path):
        """GET a streamed file: (seconds to its first byte, to its last, its size), or the error."""
        headers = {"Host": "127.0.0.1", "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        started = time.monotonic()
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            first = response.read(1)
            ttfb = time.monotonic() - started
            size, tail = len(first), first
            while chunk := response.read(65536):
                size += len(chunk)
                tail = (tail + chunk)[-65536:]
        except Exception as error:
            self.conn.close()  # reconnects on the next request
            return type(error).__name__
        if response.status != 200:
            return f"{response.status} {response.getheader('Location', '')}"
        if b"PK\x05\x06" not in tail:  # the zip's end of central directory: the archive is whole
            return f"incomplete zip ({size} bytes)"
        return ttfb, time.monotonic() - started, size

    def form(self, path, fields):
        status, _, page = self.request("GET", path)
        token = CSRF.search(page).group(1).decode()
        return self.request(
            "POST",
            path,
            urlencode({**fields, "csrfmiddlewaretoken": token}),
            "application/x-www-form-urlencoded",
        )

    def form_from(self, page_path, action):
        """POST an empty form (the «Выйти» button) with the CSRF token of another page."""
        status, _, page = self.request("GET", page_path)
        token = CSRF.search(page).group(1).decode()
        return self.request(
            "POST", action, urlencode({"csrfmiddlewaretoken": token}), "application/x-www-form-urlencoded"
        )

    def apply(self, fields):
        status, _, page = self.request("GET", "/apply/")
        token = CSRF.search(page).group(1).decode()
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in {**fields, "csrfmiddlewaretoken": token}.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="scan.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
            + PDF
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", "/apply/", body, f"multipart/form-data; boundary={boundary}")


def journey(n, stats, deadline):
    login = f"sch77{n:04d}"
    fields = {
        "organization_name": f"Школа № {n}",
        "information_system": "fis_oko",
        "region": "77",
        "phone": f"+7912{n:07d}",
        "email": f"school{n}@example.ru",
        "organization_type": "school",
        "login": login,
        "person_name": "Иванова Мария",
        "reason": "lost",
        "description": "Замена пароля",
        "consent": "on",
    }
    while time.monotonic() < deadline:
        client = Client()
        steps = [
            ("login", "form", ("/login/", {"username": login, "password": PASSWORD}), 302),
            ("cabinet", "request", ("GET", "/cabinet/"), 200),
            ("accounts", "request", ("GET", "/cabinet/accounts/"), 200),
            ("apply", "apply", (fields,), 302),
            ("success page", "request", ("GET", "/apply/done/"), 200),
            ("logout", "form_from", ("/cabinet/", "/logout/"), 302),
        ]
        for name, method, args, expected in steps:
            started = time.monotonic()
            try:
                status, location, _ = getattr(client, method)(*args)
            except Exception as error:  # a refused or dropped connection is an error too
                status, location = f"{type(error).__name__}", ""
            with stats["lock"]:
                stats["requests"] += 1
                stats["latencies"].append(time.monotonic() - started)
                if status != expected or (name == "apply" and location != "/apply/done/"):
                    stats["errors"].append(f"{name}: {status} {location}")
                elif name == "apply":
                    stats["filed"] += 1
        client.conn.close()


def release_journey(n, stats, barrier, start):
    """One school at the release moment: log in, wait for the others, then open the tab and
    download every archive it links to, over and over until the deadline."""
    client = Client()
    try:
        status, _, _ = client.form("/login/", {"username": f"sch77{n:04d}", "password": PASSWORD})
    except Exception as error:
        status = type(error).__name__
    if status != 302:
        with stats["lock"]:
            stats["errors"].append(f"login: {status}")
    barrier.wait()
    deadline = start["deadline"]
    first = set()  # archives this client has downloaded once (the first download makes the codes)
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status, _, page = client.request("GET", "/cabinet/vpr/")
        except Exception as error:
            status, page = type(error).__name__, b""
        elapsed = time.monotonic() - started
        links = ARCHIVE_LINK.findall(page)
        with stats["lock"]:
            stats["pages"].append(elapsed)
            if status != 200:
                stats["errors"].append(f"tab: {status}")
            elif links:
                stats["released_pages"] += 1
        for link in links:
            if time.monotonic() >= deadline:
                break
            result = client.download(link.decode())
            with stats["lock"]:
                if isinstance(result, str):
                    stats["errors"].append(f"archive: {result}")
                    continue
                ttfb, total, size = result
                stats["ttfb"].append(ttfb)
                stats["full"].append(total)
                stats["bytes"] += size
                if link not in first:
                    first.add(link)
                    stats["first_ttfb"].append(ttfb)
                    stats["first_at"].append(time.monotonic() - start["release"])
    client.conn.close()


def release_setup(clients):
    """Run inside ``manage.py shell``: the schools, their logins, a ВПР with two works whose
    archives are not yet released, variant files of a few MB, and every school's application."""
    import datetime as dt

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from accounts.models import School, User
    from procedures import services
    from procedures.models import Procedure, Stage, StageRole, Variant, Work

    now = timezone.now()
    today = timezone.localdate()
    procedure = Procedure.objects.create(kind="vpr", title="ВПР (нагрузочный тест)", year=today.year)
    Stage.objects.create(
        procedure=procedure,
        title="Заявка на участие",
        role=StageRole.SCHOOL,
        starts=now - dt.timedelta(days=7),
        ends=now + dt.timedelta(days=7),
    )
    works = []
    for code, subject, grade in RELEASE_WORKS:
        work = Work.objects.create(
            procedure=procedure,
            code=code,
            subject=subject,
            grade=grade,
            held_from=today,
            held_until=today + dt.timedelta(days=10),
            materials_at=now + dt.timedelta(days=1),  # released by load.py when the clients are in
            results_from=today,
            results_until=today + dt.timedelta(days=20),
            scale_3=4,
            scale_4=6,
            scale_5=8,
        )
        for number in range(1, RELEASE_VARIANTS + 1):
            content = os.urandom(RELEASE_VARIANT_MB * 1024 * 1024)
            Variant.objects.create(
                work=work, number=number, file=ContentFile(content, name=f"{code}-v{number}.pdf")
            )
        works.append(work)
    for n in range(clients):
        school = School.objects.create(region_id="77", code=f"{n:04d}", name=f"Школа № {n}")
        account = User.objects.create_user(f"sch77{n:04d}", password=PASSWORD)
        rows = {work: (RELEASE_PARTICIPANTS, today) for work in works}
        services.application_save(procedure=procedure, school=school, by=account, rows=rows, version=0)


RELEASE_CHECK = """
from procedures.models import ApplicationWork, ArchiveDownload, ParticipantCode
lines = ApplicationWork.objects.count()
stamped = ApplicationWork.objects.exclude(archive_downloaded_at=None).count()
codes = ParticipantCode.objects.count()
print(lines, stamped, codes, ArchiveDownload.objects.filter(what="archive").count())
"""


def _database(env):
    """A fresh database, and an empty media directory: each run's uploads and variants would pile up."""
    python = sys.executable
    shutil.rmtree(env["MEDIA_ROOT"], ignore_errors=True)
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True
    )


def _shell(env, code):
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _server(env, workers):
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "fisoko_portal.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(workers),
            "--threads",
            str(THREADS),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    for _ in range(100):
        try:
            Client().request("GET", "/login/")
            break
        except OSError:
            time.sleep(0.2)
    return server


def _stop(server):
    server.terminate()
    server.wait(timeout=30)
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def _cpu(server):
    """CPU seconds (user + system) so far of the running gunicorn (master and workers) and of this
    process, so that the start-up of the workers is not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [server.pid, *Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
    used = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used += (int(fields[11]) + int(fields[12])) / tick  # utime and stime
    own = resource.getrusage(resource.RUSAGE_SELF)
    return used, own.ru_utime + own.ru_stime


def _percentile(values):
    values = sorted(values)
    return lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def _machine(workers):
    return (
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs; "
        f"gunicorn {workers} {'sync workers' if THREADS == 1 else f'workers × {THREADS} threads'}; "
        "PostgreSQL and Redis on loopback"
    )


def run_requests(env, workers):
    clients = int(os.environ.get("LOAD_CLIENTS", "50"))
    _database(env)
    create = (
        "from accounts.models import User, School\n"
        f"for n in range({clients}):\n"
        "    School.objects.create(region_id='77', code=f'{n:04d}', name=f'Школа № {n}')\n"
        f"    User.objects.create_user(f'sch77{{n:04d}}', password='{PASSWORD}')\n"
    )
    _shell(env, create)
    server = _server(env, workers)
    try:
        stats = {"lock": threading.Lock(), "requests": 0, "filed": 0, "errors": [], "latencies": []}
        started = time.monotonic()
        threads = [
            threading.Thread(target=journey, args=(n, stats, started + SECONDS)) for n in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        _stop(server)
    stored = int(_shell(env, "from helpdesk.models import Ticket; print(Ticket.objects.count())"))
    latencies = sorted(stats["latencies"])
    p = _percentile(latencies)
    lines = [
        _machine(workers),
        f"- {clients} clients for {elapsed:.0f} s: {stats['requests']} requests, "
        f"{stats['requests'] / elapsed:.1f} requests/s; latency p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms",
        f"- errors: {len(stats['errors'])}" + (f" (first: {stats['errors'][:5]})" if stats["errors"] else ""),
        f"- success pages for filed requests: {stats['filed']}; requests stored: {stored}"
        + (" — equal" if stored == stats["filed"] else " — NOT EQUAL"),
    ]
    return lines, not stats["errors"] and stored == stats["filed"]


def run_release(env, workers):
    clients = int(os.environ.get("LOAD_CLIENTS", "100"))
    _database(env)
    _shell(env, f"from bench.load import release_setup; release_setup({clients})")
    server = _server(env, workers)
    try:
        stats = {
            "lock": threading.Lock(),
            "errors": [],
            "pages": [],
            "released_pages": 0,
            "ttfb": [],
            "full": [],
            "bytes": 0,
            "first_ttfb": [],
            "first_at": [],
        }
        start = {}
        release = threading.Barrier(clients + 1)
        threads = [
            threading.Thread(target=release_journey, args=(n, stats, release, start)) for n in range(clients)
        ]
        for t in threads:
            t.start()
        # Everyone is logged in: the archives are released RELEASE_AFTER seconds from now.
        while release.n_waiting < clients:
            time.sleep(0.05)
        subprocess.run(
            [
                "psql",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                DB_NAME,
                "-c",
                f"UPDATE procedures_work SET materials_at = now() + interval '{RELEASE_AFTER} seconds'",
            ],
            check=True,
        )
        cpu = _cpu(server)
        started = time.monotonic()
        start.update(release=started + RELEASE_AFTER, deadline=started + SECONDS)
        release.wait()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        cpu = [after - before for before, after in zip(cpu, _cpu(server), strict=True)]
    finally:
        _stop(server)
    lines_, stamped, codes, recorded = map(int, _shell(env, RELEASE_CHECK).split())
    page, ttfb, full, first = (_percentile(stats[k]) for k in ("pages", "ttfb", "full", "first_ttfb"))
    downloads, mib = len(stats["full"]), stats["bytes"] / 2**20
    complete = stamped == lines_ and codes == lines_ * RELEASE_PARTICIPANTS and recorded == downloads
    met = not stats["errors"] and page(0.95) < 1000 and ttfb(0.95) < 300
    lines = [
        _machine(workers),
        f"- {clients} schools, each applied for {len(RELEASE_WORKS)} works "
        f"({RELEASE_PARTICIPANTS} participants each); an archive = 2 of {RELEASE_VARIANTS} variants "
        f"of {RELEASE_VARIANT_MB} MB (random bytes) + the codes and the protocol (.docx); "
        f"released {RELEASE_AFTER} s after the clients start",
        f"- {elapsed:.0f} s: {len(stats['pages'])} tab pages ({stats['released_pages']} with the archive "
        f"links), {downloads} archives ({mib:.0f} MiB, {mib / elapsed:.0f} MiB/s)",
        f"- tab page: p50 {page(0.5):.0f} ms, p95 {page(0.95):.0f} ms, max {page(1):.0f} ms "
        "(target p95 < 1000 ms)",
        f"- archive, first byte: p50 {ttfb(0.5):.0f} ms, p95 {ttfb(0.95):.0f} ms, max {ttfb(1):.0f} ms "
        f"(target < 300 ms); first download of each (codes made): p50 {first(0.5):.0f} ms, "
        f"p95 {first(0.95):.0f} ms; all {len(stats['first_at'])} first downloads done "
        f"{max(stats['first_at'], default=0):.1f} s after the release",
        f"- archive, whole download: p50 {full(0.5):.0f} ms, p95 {full(0.95):.0f} ms, max {full(1):.0f} ms",
        f"- CPU seconds over the {elapsed:.0f} s ({os.cpu_count()} cores): gunicorn {cpu[0]:.0f} "
        f"({cpu[0] * 1000 / max(1, len(stats['pages']) + downloads):.0f} ms a request), the load generator "
        f"{cpu[1]:.0f}; the rest went to PostgreSQL and whatever else ran on the machine",
        f"- errors: {len(stats['errors'])}" + (f" (first: {stats['errors'][:5]})" if stats["errors"] else ""),
        f"- database: {stamped} of {lines_} application lines stamped «скачан», {codes} participant codes "
        f"(expected {lines_ * RELEASE_PARTICIPANTS}), {recorded} archive downloads recorded for {downloads} "
        "served" + (" — consistent" if complete else " — NOT CONSISTENT"),
        f"- targets: {'met' if met else 'NOT met'}",
    ]
    return lines, not stats["errors"] and complete


SCENARIOS = {
    "requests": ("Filing requests", run_requests),
    "release": ("The release moment of a procedure's archives", run_release),
}


def _write_report(title, lines):
    """Replace this scenario's part of the report's load section, keeping the others."""
    report = BASE_DIR / "bench" / "REPORT.md"
    text = report.read_text() if report.exists() else "# Benchmarks and load tests\n"
    head, _, section = text.partition("\n## Load test")
    _, _, section = section.partition("\n")
    parts, current = {}, None
    for line in section.splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            parts[current] = []
        elif line.strip() or current is not None:
            # Before the scenarios had headings the section held the filing scenario alone.
            parts.setdefault(current or SCENARIOS["requests"][0], []).append(line)
    parts[title] = lines
    body = "".join(
        f"### {name}\n\n" + "\n".join(line for line in part if line.strip()) + "\n\n"
        for name, part in parts.items()
    )
    report.write_text(head.rstrip() + "\n\n## Load test (`make load`)\n\n" + body.rstrip() + "\n")


def main():
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        # Nobody real is served: mail and SMS may stay on this host (files under var/).
        "ALLOW_LOCAL_DELIVERY": "1",
        # The operators' pages are measured, not their second factor (DEBUG=0 would ask for it).
        "STAFF_OTP_REQUIRED": "0",
        "HELPDESK_APPLY_LIMIT": "1000000",
        "HELPDESK_EMAIL_PER_ADDRESS_DAY": "1000000000",  # every filing queues its email, as measured
        "HELPDESK_APPLY_POST_LIMIT": "1000000",
        "MEDIA_ROOT": str(BASE_DIR / "var" / "load-media"),
        # INFO logs every request with its server time (to stderr), to tell queueing from work.
        "LOG_LEVEL": os.environ.get("LOAD_LOG_LEVEL", "WARNING"),
    }
    workers = int(os.environ.get("LOAD_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
    ok = True
    for name in os.environ.get("LOAD_SCENARIO", "requests,release").split(","):
        title, run = SCENARIOS[name.strip()]
        lines, passed = run(env, workers)
        print(f"{title}:\n" + "\n".join(lines))
        _write_report(title, lines)
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
