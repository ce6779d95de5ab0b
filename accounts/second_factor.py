"""The staff second factor: a TOTP app (django-otp) and ten one-time recovery codes.

Staff can issue a password for any cabinet account, so with STAFF_OTP_REQUIRED (on whenever DEBUG
is off) a staff session reaches nothing but these pages until a code has been given. A staff
account without a device enrols at its first login; a lost phone is mended by a recovery code, or
by a superuser deleting the account's devices in the admin, after which the account enrols again.
"""

import math
from base64 import b32encode

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import user_has_device, verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Приложение-аутентификатор"
RECOVERY_DEVICE_NAME = "Коды восстановления"

WRONG_CODE = "Неверный код подтверждения."
WRONG_SETUP_CODE = (
    "Неверный код. Проверьте, что время на телефоне точное, и введите код, который приложение "
    "показывает сейчас."
)


def required_for(user):
    return settings.STAFF_OTP_REQUIRED and user.is_authenticated and user.is_staff


def is_enrolled(user):
    return user_has_device(user, confirmed=True)


# The device being set up belongs to one session: a key shown to another session (someone else who
# has the password, at another computer) is never the one that gets confirmed.
PENDING_SESSION_KEY = "staff_otp_pending_device"


def pending_device(user, session):
    """The TOTP device this session is setting up: the same key on every visit of this session."""
    device = TOTPDevice.objects.filter(
        pk=session.get(PENDING_SESSION_KEY), user=user, confirmed=False
    ).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
        session[PENDING_SESSION_KEY] = device.pk
    return device


def app_secret(device):
    """The key as an authenticator app takes it typed in: base32, in groups of four."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_data_uri(device):
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5)


def enrolment_confirm(*, user, code, session):
    """Confirm this session's pending device with a code from the app: (the device, new recovery
    codes), or None. The codes are returned once, to be shown once; any earlier ones stop working, and
    so do the keys other sessions were shown.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=session.get(PENDING_SESSION_KEY), user=user, confirmed=False)
            .first()
        )
        if device is None or not device.verify_token(_clean(code)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        session.pop(PENDING_SESSION_KEY, None)
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    return device, codes


def code_verify(*, user, code):
    """Check a code from the app or a recovery code. Returns (device, None) or (None, a Russian error).

    Six digits are a code from the app; anything else is tried as a recovery code, which works once.
    Each device doubles its wait after every wrong code (django-otp's throttling: 1 s, 2 s, 4 s, …).
    """
    code = _clean(code)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    devices = list(model.objects.devices_for_user(user, confirmed=True))
    for device in devices:
        if verify_token(user, device.persistent_id, code):
            return device, None
    for device in devices:
        allowed, details = device.verify_is_allowed()
        if not allowed and details.get("locked_until"):
            seconds = math.ceil((details["locked_until"] - timezone.now()).total_seconds())
            return None, f"Слишком много неверных кодов. Повторите через {max(seconds, 1)} с."
    return None, WRONG_CODE


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user=user).count()


def _clean(code):
    return "".join((code or "").split()).lower()
