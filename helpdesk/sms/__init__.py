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
import re
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


# Errors are raised and logged in English (as the gateway's documentation names them); operators read
# them in Russian. A message matching none of these is shown as it is.
_RUSSIAN = [
    (r"SMSC error (-?\d+|None): .*", None),  # by the code: smsc.ERRORS_RU
    (r"SMSC did not answer within (.+) s", "SMSC не ответил за {0} с"),
    (r"cannot reach SMSC: (.*)", "нет связи с SMSC: {0}"),
    (r"SMSC answered HTTP (.*)", "SMSC ответил ошибкой HTTP {0}"),
    (r"connection to SMSC failed: (.*)", "соединение с SMSC прервалось: {0}"),
    (r"SMSC answered something other than JSON .*", "SMSC прислал непонятный ответ"),
    (r"SMSC answered unexpected JSON", "SMSC прислал непонятный ответ"),
    (r"SMSC answer has neither an id nor an error", "SMSC прислал ответ без номера сообщения"),
    (r"SMSC status answer has no status", "SMSC не сообщил состояние сообщения"),
    (r"SMSC_LOGIN and SMSC_PASSWORD must be set", "не заданы SMSC_LOGIN и SMSC_PASSWORD"),
    (r"bad SMSC_URL: (.*)", "неверный SMSC_URL: {0}"),
    (r"cannot write SMS file in (.*?): (.*)", "не удалось записать файл SMS в {0}: {1}"),
    (r"(\w+) cannot tell what became of a message", "шлюз {0} не умеет сообщать судьбу сообщения"),
]


def in_russian(text):
    """An SMS error as stored (``SmsError: SMSC error 8: …``) in Russian, for the operators' pages."""
    from .smsc import ERRORS_RU

    text = text or ""
    body = text.removeprefix("SmsError: ")
    for pattern, russian in _RUSSIAN:
        match = re.fullmatch(pattern, body, re.DOTALL)
        if match is None:
            continue
        if russian is None:
            code = match.group(1)
            described = ERRORS_RU.get(int(code)) if code.lstrip("-").isdigit() else None
            number = f" {code}" if code != "None" else ""
            return f"ошибка SMSC{number}: {described or body.split(': ', 1)[1]}"
        return russian.format(*match.groups())
    return body


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
