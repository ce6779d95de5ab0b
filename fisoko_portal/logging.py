"""Log lines without personal data: a masking formatter (plain or JSON), one line per request
and one per Celery task.

Nothing here logs a request body or a query string; the formatters also mask any email,
phone number or password that another module's message or an exception's text carries.
"""

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from celery import signals

request_log = logging.getLogger("fisoko.request")
task_log = logging.getLogger("fisoko.task")

EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@([\w-]+(?:\.[\w-]+)+)")
# A Russian number as people write it: +7 or 8, then ten digits with spaces, dashes, brackets.
PHONE = re.compile(r"(?<![\w+])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
# A value after «пароль:», «password=», «secret_key: "…"» and the like.
PASSWORD = re.compile(r"(?i)(парол\w*|password\w*|passwd|secret\w*)(\"?\s*[:=]\s*\"?)[^\s\"',;&]+")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# What a request or task line carries besides its message (see ``JsonFormatter``).
FIELDS = ["request_id", "method", "path", "status", "duration_ms", "user", "task", "task_id", "state"]


def mask_email(match):
    return f"{match.group(1)}***@{match.group(2)}"


def mask_phone(match):
    digits = re.sub(r"\D", "", match.group(0))
    digits = "7" + digits[1:]
    return f"+{digits[:4]}*****{digits[-2:]}"


def mask(text):
    """``director@school1234.ru`` → ``d***@school1234.ru``, ``+79123456789`` → ``+7912*****89``,
    ``пароль: Xy7…`` → ``пароль: ***``."""
    text = EMAIL.sub(mask_email, text)
    text = PHONE.sub(mask_phone, text)
    return PASSWORD.sub(r"\1\2***", text)


class MaskingFormatter(logging.Formatter):
    def format(self, record):
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the request or task fields."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = mask(value) if field in ("path", "user") else value
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RequestLogMiddleware:
    """One line per request, and an X-Request-ID on every response.

    An incoming X-Request-ID (from the proxy) is kept when it is a plain token, so that one id
    follows a request through nginx and here; anything else is replaced by a fresh one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        fields = {
            "request_id": request.id,
            "method": request.method,
            "path": request.path,  # never the query string: searches carry emails and phones
            "status": response.status_code,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "user": _login(request),
        }
        request_log.info("%(method)s %(path)s %(status)s %(duration_ms)sms", fields, extra=fields)
        return response


def _login(request):
    user = getattr(request, "user", None)
    try:
        return user.get_username() if user is not None and user.is_authenticated else "anonymous"
    except Exception:  # the session could not be loaded (database down): the line still goes out
        return "unknown"


_task_started = {}


@signals.task_prerun.connect
def _task_prerun(task_id=None, **kwargs):
    _task_started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_postrun(task_id=None, task=None, state=None, **kwargs):
    started = _task_started.pop(task_id, None)
    state = state or "FAILURE"  # run eagerly, a task's exception escapes before Celery sets the state
    fields = {
        "task": task.name,
        "task_id": task_id,
        "state": state,
        "duration_ms": None if started is None else round((time.monotonic() - started) * 1000, 1),
    }
    level = logging.INFO if state in ("SUCCESS", "RETRY") else logging.WARNING
    task_log.log(level, "%(task)s %(state)s %(duration_ms)sms", fields, extra=fields)
