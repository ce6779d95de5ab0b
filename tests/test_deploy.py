import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

BASE_DIR = Path(__file__).resolve().parent.parent


# What each test sets itself: the environment of the run must not decide the outcome.
OWN_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SMS_BACKEND",
    "EMAIL_URL",
    "ALLOW_LOCAL_DELIVERY",
    "CLAMAV_ENABLED",
    "STAFF_OTP_REQUIRED",
    "SITE_URL",
}
# A production configuration that check --deploy passes (the gateways are not contacted).
PRODUCTION = {
    "TRUSTED_PROXY": "10.0.0.1",
    "EMAIL_URL": "smtp+tls://servicedesk:secret@mail.example.ru:587",
    "SMS_BACKEND": "smsc",
    "SMSC_LOGIN": "fisoko",
    "SMSC_PASSWORD": "secret",
    "CLAMAV_ENABLED": "1",
    "CLAMAV_SOCKET": "/run/clamav/clamd.ctl",
    "SITE_URL": "https://fisoko.example.ru",
}
# A demo: mail and SMS kept on this host, explicitly allowed.
DEMO = {"SMS_BACKEND": "file", "EMAIL_URL": "", "ALLOW_LOCAL_DELIVERY": "1"}


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_deploy(*options, **env):
    """`check --deploy` as production runs it: DEBUG off, a real key, a public host name."""
    return manage(
        "check",
        "--deploy",
        *(options or ("--fail-level", "WARNING")),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="fisoko.example.ru",
        **env,
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_a_demo_keeps_mail_and_sms_on_the_host():
    result = check_deploy(**{**PRODUCTION, **DEMO})
    assert result.returncode != 0
    assert "(helpdesk.W001) SMS_BACKEND is 'file': issued passwords reach no phone" in result.stderr
    assert "(helpdesk.W002) Email is kept on this host" in result.stderr


@pytest.mark.parametrize(
    "site_url", ["http://127.0.0.1:8000", "http://fisoko.example.ru", "https://other.example.ru"]
)
def test_check_deploy_warns_when_links_in_mail_lead_elsewhere(site_url):
    result = check_deploy(**{**PRODUCTION, "SITE_URL": site_url})
    assert result.returncode != 0
    assert f"(helpdesk.W003) SITE_URL is '{site_url}'" in result.stderr


def test_check_deploy_warns_when_staff_would_log_in_with_a_password_alone():
    # With DEBUG=0 the second factor is required unless turned off (the test above finds no warning).
    result = check_deploy(**PRODUCTION, STAFF_OTP_REQUIRED="0")
    assert result.returncode != 0
    assert "(accounts.W001) STAFF_OTP_REQUIRED is off" in result.stderr


def test_check_deploy_fails_when_clamav_is_off():
    # Django's own fail level: only an Error makes it fail, so this proves ClamAV is not a mere warning.
    result = check_deploy("--fail-level", "ERROR", **{**PRODUCTION, "CLAMAV_ENABLED": "0"})
    assert result.returncode != 0
    assert "(helpdesk.E001) CLAMAV_ENABLED is off: files from the public form reach operators unscanned" in (
        result.stderr
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SMS_BACKEND": ""}, "SMS_BACKEND is 'file'"),  # unset: the embedded default
        ({"SMS_BACKEND": "console"}, "SMS_BACKEND is 'console'"),
        ({"SMS_BACKEND": "locmem"}, "SMS_BACKEND is 'locmem'"),
        ({"SMS_BACKEND": "helpdesk.sms.file.FileBackend"}, "SMS_BACKEND is 'helpdesk.sms.file.FileBackend'"),
        ({"EMAIL_URL": ""}, "EMAIL_BACKEND is 'django.core.mail.backends.filebased.EmailBackend'"),
        ({"EMAIL_URL": "consolemail://"}, "'django.core.mail.backends.console.EmailBackend'"),
    ],
)
def test_production_refuses_to_start_with_local_sms_or_mail(env, message):
    result = manage("check", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(60), **{**PRODUCTION, **env})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert "ALLOW_LOCAL_DELIVERY=1 for a demo" in result.stderr


def test_production_starts_with_local_delivery_when_a_demo_allows_it():
    result = manage("check", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(60), **{**PRODUCTION, **DEMO})
    assert result.returncode == 0, result.stderr


def test_debug_with_a_public_host_refuses_to_start():
    result = manage("check", DEBUG="1", ALLOWED_HOSTS="fisoko.example.ru")
    assert result.returncode != 0
    assert "DEBUG is on while ALLOWED_HOSTS names public hosts" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/apply/", "/apply/status/"])
def test_pages_carry_the_security_headers(client, url):
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.content.decode()  # no inline scripts to allow


def post_login(client, username, password, **headers):
    return client.post("/login/", {"username": username, "password": password}, **headers)


def fail_five_times(client, **headers):
    for _ in range(5):
        response = post_login(client, "sch771234", "wrong", **headers)
    return response


def test_forwarded_for_from_a_client_does_not_dodge_the_lockout(client, school):
    # No trusted proxy: every request comes from REMOTE_ADDR 127.0.0.1, whatever the header says.
    for n in range(5):
        post_login(client, "sch771234", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert post_login(client, "sch771234", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_behind_the_trusted_proxy_each_client_is_locked_out_alone(client, school, settings):
    settings.TRUSTED_PROXY = "127.0.0.1"
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert fail_five_times(client, **attacker).status_code == 429
    # The real school, another address behind the same proxy, still logs in.
    assert post_login(client, "sch771234", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302


def test_behind_the_trusted_proxy_a_forged_first_address_is_ignored(client, school, settings):
    settings.TRUSTED_PROXY = "127.0.0.1"
    # The attacker writes a header of its own; the proxy appends the real address after it.
    for n in range(5):
        post_login(client, "sch771234", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.9")
    assert post_login(client, "sch771234", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429


@pytest.mark.django_db
def test_request_form_throttle_uses_the_same_client_address(client, settings, valid_data):
    settings.TRUSTED_PROXY = "127.0.0.1"
    settings.HELPDESK_APPLY_POST_RATE = (2, 3600)
    for _ in range(2):
        client.post("/apply/", {**valid_data, "phone": "1"}, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client.post("/apply/", valid_data, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert (
        client.post("/apply/", {**valid_data, "phone": "1"}, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code
        == 200
    )


def test_stack_without_gateways_refuses_to_start_and_says_how(tmp_path):
    """`make stack` is how one machine runs production: without an SMS gateway it must not start.

    It stops before it touches PostgreSQL, Redis or var/. Should it not, the addresses below (a
    documentation network) answer nothing, and the stack stops there instead of serving.
    """
    env = {
        **{k: v for k, v in os.environ.items() if k not in OWN_SETTINGS},
        "DATABASE_URL": "postgres://postgres@192.0.2.1:5432/nothing",
        "REDIS_URL": "redis://192.0.2.1:6379/0",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(60),
    }
    result = subprocess.run(
        [str(BASE_DIR / "bin" / "stack")], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "stack: DEBUG is off but SMS_BACKEND is 'file': issued passwords would stay on this host. "
        "Set SMS_BACKEND=smsc with SMSC_LOGIN and SMSC_PASSWORD, or ALLOW_LOCAL_DELIVERY=1 for a demo."
    ]


@pytest.mark.django_db
def test_forwarded_proto_is_believed_only_from_the_trusted_proxy(client, settings):
    settings.TRUSTED_PROXY = "10.0.0.1"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    # A client that reaches the web process past the proxy and claims HTTPS is still sent to HTTPS.
    direct = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert direct.status_code == 301 and direct.url == "https://testserver/login/"
    proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="10.0.0.1")
    assert proxied.status_code == 200
