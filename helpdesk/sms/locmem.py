"""Test backend: keeps messages in the module-level list ``outbox`` (tests clear it)."""

import itertools
import threading

from . import BaseBackend, Outcome, SmsMessage

outbox: list[SmsMessage] = []

_ids = itertools.count(1)
_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        with _lock:
            outbox.append(message)
            return message.id or f"locmem-{next(_ids)}"

    def status(self, message: SmsMessage) -> Outcome:
        with _lock:
            sent = any(m.id == message.id and m.phone == message.phone for m in outbox)
        return Outcome.ACCEPTED if sent else Outcome.NOT_FOUND
