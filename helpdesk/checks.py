"""`manage.py check --deploy`: notifications must reach people, and uploads must be scanned.

The development backends keep mail and SMS on the web host, and the file one writes every issued
password to disk in plain text; fine for `make run`, never for the real service. With DEBUG off the
settings refuse them outright unless ALLOW_LOCAL_DELIVERY is set; these warnings remind a demo.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import validate_host


@checks.register(checks.Tags.security, deploy=True)
def notifications_leave_the_host(app_configs, **kwargs):
    found = []
    if any(name.strip() in settings.LOCAL_SMS_BACKENDS for name in settings.SMS_BACKEND.split(",")):
        found.append(
            checks.Warning(
                f"SMS_BACKEND is {settings.SMS_BACKEND!r}: issued passwords reach no phone "
                "and stay on this host.",
                hint="Set SMS_BACKEND=smsc with SMSC_LOGIN and SMSC_PASSWORD (or a gateway's backend class).",
                id="helpdesk.W001",
            )
        )
    if settings.EMAIL_BACKEND in settings.LOCAL_EMAIL_BACKENDS:
        found.append(
            checks.Warning(
                "Email is kept on this host: requesters get no confirmation or answer.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@mail.example.ru:587.",
                id="helpdesk.W002",
            )
        )
    return found


@checks.register(checks.Tags.security, deploy=True)
def mail_links_lead_here(app_configs, **kwargs):
    """Every email links to SITE_URL: the development default would send people to their own machine."""
    url = urlsplit(settings.SITE_URL)
    if url.scheme == "https" and validate_host(url.hostname or "", settings.ALLOWED_HOSTS):
        return []
    return [
        checks.Warning(
            f"SITE_URL is {settings.SITE_URL!r}: the links in mail do not lead to this site over HTTPS.",
            hint="Set SITE_URL to the portal's public address, e.g. https://lk-fisoko.example.ru.",
            id="helpdesk.W003",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def uploads_are_scanned(app_configs, **kwargs):
    """An error, not a warning: operators open the scans the public uploads, on their own machines."""
    if settings.CLAMAV_ENABLED:
        return []
    return [
        checks.Error(
            "CLAMAV_ENABLED is off: files from the public form reach operators unscanned.",
            hint="Run clamd and set CLAMAV_ENABLED=1 with CLAMAV_SOCKET (or CLAMAV_HOST and CLAMAV_PORT).",
            id="helpdesk.E001",
        )
    ]
