"""A bounded load test on loopback: N clients for T seconds against gunicorn, PostgreSQL and Redis.

Each client logs in as its own school, opens the cabinet and the account list, files a request
with a PDF attachment and logs out, over and over. At the end the number of success pages must
equal the number of requests stored, and no response may be an error.

    make load            # 50 clients, 60 s; LOAD_CLIENTS / LOAD_SECONDS change that
"""

import http.client
import os
import re
import secrets
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
DB_NAME = "fisoko_load"
# A Redis database of its own: the tasks queued here have no worker and are dropped afterwards.
REDIS = os.environ.get("LOAD_REDIS", "redis://127.0.0.1:6379/5")
PASSWORD = "load-test-password-1"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n" + b"0" * 100_000 + b"\n%%EOF\n"
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


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
        "HELPDESK_APPLY_LIMIT": "1000000",
        "HELPDESK_EMAIL_PER_ADDRESS_DAY": "1000000000",  # every filing queues its email, as measured
        "HELPDESK_APPLY_POST_LIMIT": "1000000",
        "MEDIA_ROOT": str(BASE_DIR / "var" / "load-media"),
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True
    )
    create = (
        "from accounts.models import User, School\n"
        f"for n in range({CLIENTS}):\n"
        "    School.objects.create(region_id='77', code=f'{n:04d}', name=f'Школа № {n}')\n"
        f"    User.objects.create_user(f'sch77{{n:04d}}', password='{PASSWORD}')\n"
    )
    subprocess.run([python, "manage.py", "shell", "-v", "0", "-c", create], cwd=BASE_DIR, env=env, check=True)
    workers = int(os.environ.get("LOAD_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
    server = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "fisoko_portal.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                Client().request("GET", "/login/")
                break
            except OSError:
                time.sleep(0.2)
        stats = {"lock": threading.Lock(), "requests": 0, "filed": 0, "errors": [], "latencies": []}
        started = time.monotonic()
        threads = [
            threading.Thread(target=journey, args=(n, stats, started + SECONDS)) for n in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        import redis

        redis.Redis.from_url(REDIS).flushdb()
    count = "from helpdesk.models import Ticket; print(Ticket.objects.count())"
    stored = int(
        subprocess.run(
            [python, "manage.py", "shell", "-v", "0", "-c", count],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    latencies = sorted(stats["latencies"])
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    lines = [
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs; "
        f"gunicorn {workers} sync workers; PostgreSQL and Redis on loopback",
        f"- {CLIENTS} clients for {elapsed:.0f} s: {stats['requests']} requests, "
        f"{stats['requests'] / elapsed:.1f} requests/s; latency p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms",
        f"- errors: {len(stats['errors'])}" + (f" (first: {stats['errors'][:5]})" if stats["errors"] else ""),
        f"- success pages for filed requests: {stats['filed']}; requests stored: {stored}"
        + (" — equal" if stored == stats["filed"] else " — NOT EQUAL"),
    ]
    print("\n".join(lines))
    report = BASE_DIR / "bench" / "REPORT.md"
    text = report.read_text() if report.exists() else "# Benchmarks and load tests\n"
    head, _, _ = text.partition("\n## Load test")
    report.write_text(head.rstrip() + "\n\n## Load test (`make load`)\n\n" + "\n".join(lines) + "\n")
    return 0 if not stats["errors"] and stored == stats["filed"] else 1


if __name__ == "__main__":
    sys.exit(main())
