"""Outgoing SMS: one backend class per channel, chosen by ``settings.SMS_BACKEND``.

``SMS_BACKEND`` names one gateway, or a primary and a fallback separated by a comma
(``smsc,myproject.sms.Other``): after a failure on one gateway the outbox's next attempt goes
through the other (``helpdesk.outbox``).

Usage::

    from helpdesk.sms import SmsError, SmsMessage, get_backend

    try:
        provider_id = get_backend().send(SmsMessage(phone="+79161234567", text="...", id="4200"))
    except SmsError as e:
        retry = not e.permanent
        if e.unclear:  # the gateway may have taken it: ask before sending anything else
            outcome = get_backend().status(SmsMessage(phone="+79161234567", text="", id="4200"))

Backends never log the message text: it may carry a password.
"""

import enum
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
    """Sending failed. ``permanent`` is True when retrying the same message cannot help.

    ``unclear`` is True when the request may have reached the gateway all the same (no answer in
    time, the connection dropped after the request went out, an answer that cannot be read): the
    message may be on its way, and only ``status()`` can tell.
    """

    def __init__(self, message, *, permanent=False, unclear=False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.unclear = unclear


class Outcome(enum.Enum):
    """What the gateway says of a message id."""

    ACCEPTED = "accepted"  # it has the message: queued, passed to the operator or delivered
    NOT_FOUND = "not_found"  # it never got the message
    FAILED = "failed"  # it got the message and could not deliver it


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    # The sender's id for this message, if the gateway takes one: the handle to ask its status by.
    id: str = ""

    def __repr__(self):
        # Keep the text (it may hold a password) out of tracebacks and logs.
        return f"SmsMessage(phone={self.phone!r}, text=<{len(self.text)} chars>, id={self.id!r})"


class BaseBackend:
    def send(self, message: SmsMessage) -> str:
        """Send ``message``; return the provider's message id ("" if none). Raise SmsError on failure."""
        raise NotImplementedError

    def status(self, message: SmsMessage) -> Outcome:
        """What became of ``message`` (its ``id`` and ``phone``). Raise SmsError when that cannot be learnt.

        Only asked after an ``unclear`` failure, which backends without a status API never raise.
        """
        raise SmsError(f"{type(self).__name__} cannot tell what became of a message", permanent=True)


def backend_names() -> list[str]:
    """The gateways ``settings.SMS_BACKEND`` names, primary first, read at call time."""
    return [name.strip() for name in settings.SMS_BACKEND.split(",") if name.strip()] or ["file"]


def get_backend(name=None) -> BaseBackend:
    """An instance of the backend called ``name`` (a short name or a dotted path); by default the
    primary gateway of ``settings.SMS_BACKEND``."""
    name = name or backend_names()[0]
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
