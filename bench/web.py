"""Figures served by gunicorn: the login storm and the submission of large attachments."""

import os
import shutil
import statistics
import uuid
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher

from accounts.hashers import Argon2idHasher
from accounts.models import User
from demo.management.commands.seed_scale import PASSWORD
from helpdesk.models import Ticket

from .lib import CPUS, CSRF, Figure, Gunicorn, Target, csrf_headers, hammer, request

LOGIN_SECONDS = float(os.environ.get("BENCH_LOGIN_SECONDS", "10"))
SEQUENTIAL_LOGINS = 30
MB = 1024 * 1024
PDF_HEAD = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n"
FORM = {
    "organization_name": "ГБОУ «Школа № 1234»",
    "information_system": "fis_oko",
    "region": "77",
    "phone": "+7 912 345-67-89",
    "email": "director@school1234.ru",
    "organization_type": "school",
    "login": "sch77000001",
    "person_name": "Иванова Мария Петровна",
    "head_name": "Петров Пётр Петрович",
    "reason": "lost",
    "description": "Замена пароля",
    "consent": "on",
    "website": "",
}


# Login storm


def login_body(username):
    return urlencode({"csrfmiddlewaretoken": CSRF, "username": username, "password": PASSWORD})


def login_once(port, username, timings=None):
    """One login; ``timings`` gets (ms in Django, ms of it verifying the password) from the worker."""
    status, location, headers = request(
        port, "POST", "/login/", login_body(username), csrf_headers("application/x-www-form-urlencoded")
    )
    if timings is not None:
        timings.append((float(headers["X-Bench-Server-Ms"]), float(headers["X-Bench-Hash-Ms"])))
    return True if (status, location) == (302, "/cabinet/") else f"{status} {location}"


def login_storm(env, runs):
    """Logins per second per core, Argon2id (production) against Django's default PBKDF2, side by side."""
    argon_users = list(
        User.objects.filter(region_id="77", role="school")
        .order_by("pk")
        .values_list("username", flat=True)[:500]
    )
    pbkdf2_users = list(
        User.objects.filter(region_id="50", role="school")
        .order_by("pk")
        .values_list("username", flat=True)[:500]
    )
    # Each set of accounts with its hasher's current parameters (seed_scale makes Argon2id ones).
    pbkdf2, argon = PBKDF2PasswordHasher(), Argon2idHasher()
    hashes = {}
    for hasher, users in [(pbkdf2, pbkdf2_users), (argon, argon_users)]:
        sample = User.objects.get(username=users[0]).password
        if not sample.startswith(f"{hasher.algorithm}$") or hasher.must_update(sample):
            sample = hasher.encode(PASSWORD, hasher.salt())
            User.objects.filter(username__in=users).update(password=sample)
        hashes[hasher.algorithm] = sample
    argon_hash = hashes[argon.algorithm]
    params = argon.decode(argon_hash)
    django_argon = Argon2PasswordHasher()
    owasp = params["memory_cost"] >= 19 * 1024 and params["time_cost"] >= 2 and params["parallelism"] >= 1

    clients = 2 * CPUS
    rates = {
        "argon2id": Figure("Argon2id", unit="logins/s/core"),
        "pbkdf2": Figure("PBKDF2", unit="logins/s/core"),
    }
    ratio = Figure("ratio", unit="×", digits=1)
    overhead = Figure("view cost beyond hashing", unit="ms", digits=1)
    verify_times, login_times, failures = Figure("verify", unit="ms"), Figure("login", unit="ms"), []
    cache_times, cache_cost = Figure("login", unit="ms"), Figure("cost beyond hashing", unit="ms")
    with (
        Gunicorn(env, 8091, CPUS) as production,
        Gunicorn(env, 8092, CPUS, BENCH_HASHER="pbkdf2") as baseline,
        Gunicorn(env, 8095, 1, BENCH_SESSIONS="cache") as redis_only,
    ):
        login_once(redis_only.port, argon_users[0])
        for _, server, users in [
            ("argon2id", production, argon_users),
            ("pbkdf2", baseline, pbkdf2_users),
        ]:
            login_once(server.port, users[0])  # warm up: imports, connections
        for _ in range(runs):
            for name, server, users in [
                ("argon2id", production, argon_users),
                ("pbkdf2", baseline, pbkdf2_users),
            ]:
                ok, failed, elapsed, _ = hammer(
                    clients,
                    lambda i, n, s=server, u=users: login_once(s.port, u[(i * 1000 + n) % len(u)]),
                    seconds=LOGIN_SECONDS,
                )
                failures += failed
                rates[name].values.append(ok / elapsed / CPUS)
            ratio.values.append(rates["argon2id"].values[-1] / rates["pbkdf2"].values[-1])
            # One client at a time. The worker times, on each login, Django's whole handling and the
            # hasher's verify inside it: their difference is the view's own cost, whatever the noise.
            for server, logins, cost in [
                (production, login_times, overhead),
                (redis_only, cache_times, cache_cost),
            ]:
                timings = []
                ok, failed, _, _ = hammer(
                    1,
                    lambda i, n, s=server, t=timings: login_once(s.port, argon_users[n], t),
                    each=SEQUENTIAL_LOGINS,
                )
                failures += failed
                logins.values.append(statistics.median(total for total, _ in timings))
                cost.values.append(statistics.median(total - hashing for total, hashing in timings))
                if server is production:
                    verify_times.values.append(statistics.median(hashing for _, hashing in timings))
    lines = [
        f"gunicorn `-w {CPUS}` (one sync worker per core: hashing is CPU-bound) for each hasher, "
        f"{clients} clients posting `/login/` for {LOGIN_SECONDS:.0f} s per hasher and run, {runs} runs, "
        "the two hashers alternating; every login a new session, each answered 302 → `/cabinet/`.",
        "",
        f"- Argon2id ({params['memory_cost'] // 1024} MiB, t={params['time_cost']}, "
        f"p={params['parallelism']}; "
        f"OWASP minimum 19 MiB, t=2, p=1: {'at or above' if owasp else 'BELOW'}): {rates['argon2id'].text()}",
        f"- Django's default PBKDF2 ({pbkdf2.iterations:,} iterations): {rates['pbkdf2'].text()}",
        f"- Django's own Argon2 defaults would be {django_argon.memory_cost // 1024} MiB, "
        f"t={django_argon.time_cost}, p={django_argon.parallelism}.",
        f"- one login at a time, timed in the worker (`bench/timing.py`: Django's handling of the request, "
        f"and the production hasher's verify inside it): {login_times.text()} in Django, of it "
        f"{verify_times.text()} verifying the password; the view's own cost, the difference per login: "
        f"{overhead.text()}",
        f"- the same with sessions in Redis only (`SESSION_ENGINE` cache, a gunicorn of its own, `-w 1`): "
        f"{cache_times.text()} in Django, view's own cost {cache_cost.text()}. Not the default: a Redis "
        "restart would log every user out; `cached_db` keeps the session in PostgreSQL, reads it from Redis.",
        f"- failed logins: {len(failures)}" + (f" (first: {failures[:3]})" if failures else ""),
    ]
    targets = [
        Target(
            "Login storm: Argon2id vs default PBKDF2, per core", "≥ 5×", ratio, ratio.median >= 5 and owasp
        ),
        Target("Login view's cost beyond the hasher", "< 5 ms", overhead, overhead.median < 5),
    ]
    return lines, targets, not failures


# Submission


def multipart(size):
    """A valid /apply/ form with one PDF of ``size`` bytes: (boundary, body)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in {**FORM, "csrfmiddlewaretoken": CSRF}.items()
    ]
    block = os.urandom(MB)  # not compressible: a scan is not either
    pdf = PDF_HEAD + block * (size // MB)
    pdf = pdf[:size - 7] + b"\n%%EOF\n"  # fmt: skip
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="scan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + pdf
        + b"\r\n"
    )
    return boundary, b"".join(parts) + f"--{boundary}--\r\n".encode()


def post_upload(port, path, boundary, body, expect):
    status, location, _ = request(
        port, "POST", path, body, csrf_headers(f"multipart/form-data; boundary={boundary}")
    )
    return True if (status, location) == expect else f"{status} {location}"


CLIENTS = 4
UPLOADS_PER_RUN = 16
REAL = ("/apply/", (302, "/apply/done/"))
FLOOR = ("/bench/upload/", (200, ""))


def upload_rates(env, port, runs, checks, bodies, failures, media):
    """Per attachment size: the rate of /apply/ and of the floor in one gunicorn, and their ratio."""
    found = {}
    with Gunicorn(env, port, CPUS, **checks) as server:
        for size, (boundary, body) in bodies.items():
            real = Figure("/apply/", unit="requests/s", digits=2)
            floor = Figure("floor", unit="requests/s", digits=2)
            ratio = Figure("ratio", unit="× the floor", digits=2)
            for _ in range(runs):
                for figure, (path, expect) in [(floor, FLOOR), (real, REAL)]:
                    ok, failed, elapsed, _ = hammer(
                        CLIENTS,
                        lambda i, n, p=path, e=expect, b=boundary, d=body: post_upload(
                            server.port, p, b, d, e
                        ),
                        each=UPLOADS_PER_RUN // CLIENTS,
                    )
                    failures += failed
                    figure.values.append(ok / elapsed)
                ratio.values.append(real.values[-1] / floor.values[-1])
                shutil.rmtree(media / "tickets", ignore_errors=True)
            found[size] = real, floor, ratio
    return found


def peak_memory_growth(env, runs, checks, body, failures, media):
    """The worker's VmHWM growth (MiB) over a 40 MB upload after warm-up, for /apply/ and the floor."""
    growth = {"real": Figure("growth", unit="MiB", digits=1), "floor": Figure("growth", unit="MiB", digits=1)}
    small = multipart(MB)
    with Gunicorn(env, 8094, 1, **checks) as server:
        for _ in range(3):  # every code path once, with a small file
            post_upload(server.port, REAL[0], *small, REAL[1])
            post_upload(server.port, FLOOR[0], *small, FLOOR[1])
        for _ in range(runs):
            for name, (path, expect) in [("real", REAL), ("floor", FLOOR)]:
                (before,) = server.peak_rss_kib().values()
                result = post_upload(server.port, path, *body, expect)
                if result is not True:
                    failures.append(result)
                (after,) = server.peak_rss_kib().values()
                growth[name].values.append((after - before) / 1024)
        shutil.rmtree(media / "tickets", ignore_errors=True)
    return growth


def submission(env, runs, clamd_socket):
    """Uploads of 10 and 40 MB from 4 clients, /apply/ against the floor in the same gunicorn."""
    media = Path(str(settings.MEDIA_ROOT))
    first_new = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    bodies = {size: multipart(size * MB) for size in (10, 40)}
    configurations = [("ClamAV off", {}, 8096)]
    if clamd_socket:
        clamav = {"CLAMAV_ENABLED": "1", "CLAMAV_SOCKET": str(clamd_socket)}
        configurations.insert(0, ("every check on, ClamAV included", clamav, 8093))
    failures, targets = [], []
    lines = [
        f"gunicorn `-w {CPUS}`, {CLIENTS} clients, {UPLOADS_PER_RUN} uploads per run and view, {runs} runs, "
        "the floor (`bench/urls.py`: parses the same multipart body into temporary files and renders a "
        "one-line template) and `/apply/` alternating in the same gunicorn. /apply/ checks each file's "
        "extension and its type by the first bytes (zip containers by their directory) and, when on, has "
        "ClamAV scan every byte (a real clamd on a Unix socket, `tests/clamd_server.py`, signatures: EICAR "
        "only). The PDF is random bytes after its header. Throttle on (its limit raised).",
        "",
        "| checks | size | /apply/, requests/s | floor, requests/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, checks, port in configurations:
        for size, (real, floor, ratio) in upload_rates(
            env, port, runs, checks, bodies, failures, media
        ).items():
            lines.append(f"| {name} | {size} MB | {real.text()} | {floor.text()} | {ratio.text()} |")
            targets.append(
                Target(
                    f"Submission, {size} MB, {CLIENTS} clients, {name}",
                    "≥ 0.7× the floor",
                    ratio,
                    ratio.median >= 0.7,
                )
            )
    checks = configurations[0][1]
    growth = peak_memory_growth(env, runs, checks, bodies[40], failures, media)
    Ticket.objects.filter(pk__gte=first_new).delete()
    lines += [
        "",
        f"- memory, one worker (`-w 1`, {configurations[0][0]}), a 40 MB upload after warm-up: the worker's "
        f"VmHWM grows by {growth['real'].text()} (the floor's: {growth['floor'].text()})",
        f"- failed requests: {len(failures)}" + (f" (first: {failures[:3]})" if failures else ""),
    ]
    real_growth = growth["real"]
    targets.append(
        Target(
            "Submission, 40 MB: web worker's peak memory growth",
            "< 16 MiB",
            real_growth,
            max(real_growth.values) < 16,
        )
    )
    return lines, targets, not failures
