"""Test backend: keeps messages in the module-level list ``outbox`` (tests clear it)."""

import itertools
import threading

from . import BaseBackend, SmsMessage

outbox: list[SmsMessage] = []

_ids = itertools.count(1)
_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        with _lock:
            outbox.append(message)
            return f"locmem-{next(_ids)}"
