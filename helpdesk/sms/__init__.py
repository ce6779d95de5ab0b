"""Outgoing SMS: one backend class per channel, chosen by ``settings.SMS_BACKEND``.

Usage::

    from helpdesk.sms import SmsError, SmsMessage, get_backend

    try:
        provider_id = get_backend().send(SmsMessage(phone="+79161234567", text="..."))
    except SmsError as e:
        retry = not e.permanent

Backends never log the message text: it may carry a password.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

BACKENDS = {
    "console": "helpdesk.sms.console.ConsoleBackend",
    "file": "helpdesk.sms.file.FileBackend",
    "locmem": "helpdesk.sms.locmem.LocmemBackend",
    "smsc": "helpdesk.sms.smsc.SmscBackend",
}


class SmsError(Exception):
    """Sending failed. ``permanent`` is True when retrying the same message cannot help."""

    def __init__(self, message, *, permanent=False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str

    def __repr__(self):
        # Keep the text (it may hold a password) out of tracebacks and logs.
        return f"SmsMessage(phone={self.phone!r}, text=<{len(self.text)} chars>)"


class BaseBackend:
    def send(self, message: SmsMessage) -> str:
        """Send ``message``; return the provider's message id ("" if none). Raise SmsError on failure."""
        raise NotImplementedError


def get_backend() -> BaseBackend:
    """An instance of the backend that ``settings.SMS_BACKEND`` names, read at call time."""
    name = settings.SMS_BACKEND
    path = BACKENDS.get(name, name)
    try:
        cls = import_string(path)
    except ImportError as e:
        choices = ", ".join(f'"{key}"' for key in BACKENDS)
        raise ImproperlyConfigured(
            f"SMS_BACKEND={name!r} is neither one of {choices} nor an importable dotted path to a "
            f"backend class ({e})"
        ) from e
    return cls()
