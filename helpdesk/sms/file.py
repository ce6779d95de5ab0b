"""Default backend: one private text file per message under ``settings.SMS_FILE_PATH``."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from . import BaseBackend, SmsError, SmsMessage


class FileBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        directory = Path(settings.SMS_FILE_PATH)
        now = timezone.now()
        stem = f"{timezone.localtime(now):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
        content = f"To: {message.phone}\nDate: {now.isoformat()}\n\n{message.text}\n"
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(directory / f"{stem}.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
        except OSError as e:
            raise SmsError(f"cannot write SMS file in {directory}: {e.strerror or e}") from e
        return stem
