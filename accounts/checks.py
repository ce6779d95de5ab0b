"""`manage.py check --deploy`: staff accounts need their second factor in production."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def staff_second_factor(app_configs, **kwargs):
    if settings.STAFF_OTP_REQUIRED:
        return []
    return [
        checks.Warning(
            "STAFF_OTP_REQUIRED is off: staff, who can issue a password for any account, "
            "log in with a password alone.",
            hint="Unset STAFF_OTP_REQUIRED (it follows DEBUG) or set STAFF_OTP_REQUIRED=1.",
            id="accounts.W001",
        )
    ]
