"""`manage.py check --deploy`: notifications must reach people in production.

The development backends keep mail and SMS on the web host, and the file one writes every issued
password to disk in plain text; fine for `make run`, never for the real service.
"""

from django.conf import settings
from django.core import checks

LOCAL_SMS = {"console", "file", "locmem"}
LOCAL_MAIL = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def notifications_leave_the_host(app_configs, **kwargs):
    found = []
    if settings.SMS_BACKEND in LOCAL_SMS:
        found.append(
            checks.Warning(
                f"SMS_BACKEND is {settings.SMS_BACKEND!r}: issued passwords reach no phone "
                "and stay on this host.",
                hint="Set SMS_BACKEND=smsc with SMSC_LOGIN and SMSC_PASSWORD (or a gateway's backend class).",
                id="helpdesk.W001",
            )
        )
    if settings.EMAIL_BACKEND in LOCAL_MAIL:
        found.append(
            checks.Warning(
                "Email is kept on this host: requesters get no confirmation or answer.",
                hint="Set EMAIL_URL, e.g. smtp+tls://user:password@mail.example.ru:587.",
                id="helpdesk.W002",
            )
        )
    return found
