"""Development backend: prints each message to standard output."""

import sys

from . import BaseBackend, SmsMessage


class ConsoleBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        sys.stdout.write(f"SMS to {message.phone}:\n{message.text}\n")
        sys.stdout.flush()
        return ""
