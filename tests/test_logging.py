"""Log lines: one JSON line per request and per task, with no email, phone or password in any line."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from fisoko_portal.logging import JsonFormatter, mask
from helpdesk import services
from helpdesk.models import Ticket
from helpdesk.sms import locmem
from tests.conftest import login_client
from tests.helpdesk.conftest import TICKET_DATA, pdf

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def json_log(caplog):
    """Every log line of the test, formatted as production formats it with LOG_JSON=1."""
    caplog.set_level(logging.DEBUG)
    formatter = JsonFormatter()

    def lines():
        return [json.loads(formatter.format(record)) for record in caplog.records]

    return lines


def test_mask_keeps_enough_to_tell_contacts_apart():
    assert mask("to director@school1234.ru") == "to d***@school1234.ru"
    assert mask("SMS to +79123456789: ok") == "SMS to +7912*****89: ok"
    assert mask("phone 8 (912) 345-67-89") == "phone +7912*****89"
    assert mask("Логин sch771234, новый пароль: Xy7kPq2mZt9A.") == "Логин sch771234, новый пароль: ***"
    assert mask("request 2026-12-01 sch771234 took 12 ms") == "request 2026-12-01 sch771234 took 12 ms"
    assert mask('{"password": "hunter2", "secret_key":"abc"}') == '{"password": "***", "secret_key":"***"}'
    assert mask("password_issue for sch771234: SMS queued") == "password_issue for sch771234: SMS queued"


def test_filed_request_logs_one_line_with_its_fields_and_no_contacts(
    client, valid_data, settings, tmp_path, json_log, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/apply/", {**valid_data, "attachments": [pdf()]})
    assert response.status_code == 302

    lines = json_log()
    [request] = [line for line in lines if line["logger"] == "fisoko.request"]
    assert request["method"] == "POST" and request["path"] == "/apply/" and request["status"] == 302
    assert request["user"] == "anonymous" and isinstance(request["duration_ms"], float)
    assert request["request_id"] == response["X-Request-ID"] and re.fullmatch(
        r"[0-9a-f]{32}", request["request_id"]
    )
    [task] = [line for line in lines if line["logger"] == "fisoko.task"]
    assert task["task"] == "helpdesk.tasks.deliver_notification" and task["state"] == "SUCCESS"
    assert task["task_id"] and isinstance(task["duration_ms"], float)

    text = json.dumps(lines, ensure_ascii=False)
    assert Ticket.objects.get().number in text  # the service's own line says what was filed
    for secret in ["director@school1234.ru", "+79123456789", "345-67-89", "Иванова"]:
        assert secret not in text


def test_issued_password_appears_in_no_line(
    client, operator, school, settings, json_log, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_submit(data=TICKET_DATA, files=[(pdf(), "scan.pdf", "application/pdf")])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/helpdesk/ticket/{ticket.pk}/issue-password/")
    assert response.status_code == 302
    [sms] = locmem.outbox
    password = re.search(r"новый пароль: (\S+?)\.? ", sms.text + " ").group(1)

    lines = json_log()
    assert [line["user"] for line in lines if line["logger"] == "fisoko.request"] == ["operator"]
    text = json.dumps(lines, ensure_ascii=False)
    assert password not in text and TICKET_DATA["email"] not in text and TICKET_DATA["phone"] not in text
    locmem.outbox.clear()


@pytest.mark.parametrize(
    "incoming, kept",
    [("req-42.abc_DEF-7f3a", True), ("bad id", False), ("x" * 65, False), ("<script>", False), ("", False)],
)
def test_incoming_request_id_is_kept_only_when_it_is_a_plain_token(client, json_log, incoming, kept):
    response = client.get("/login/", HTTP_X_REQUEST_ID=incoming)
    assert (response["X-Request-ID"] == incoming) is kept
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", response["X-Request-ID"])
    [request] = [line for line in json_log() if line["logger"] == "fisoko.request"]
    assert request["request_id"] == response["X-Request-ID"]


def test_query_string_is_not_logged(client, operator, json_log):
    login_client(operator).get("/admin/helpdesk/ticket/", {"q": "director@school1234.ru"})
    [request] = [line for line in json_log() if line["logger"] == "fisoko.request"]
    assert request["path"] == "/admin/helpdesk/ticket/"
    assert "school1234" not in json.dumps(json_log())


def test_log_json_setting_makes_every_line_json_and_masked():
    probe = (
        "import django, logging; django.setup(); "
        "logging.getLogger('helpdesk.outbox').warning('refused: director@school1234.ru, +79123456789')"
    )
    env = {**os.environ, "LOG_JSON": "1", "DJANGO_SETTINGS_MODULE": "fisoko_portal.settings"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "helpdesk.outbox"
    assert line["message"] == "refused: d***@school1234.ru, +7912*****89"


def test_failed_task_logs_its_state_as_a_warning(json_log):
    from fisoko_portal.celery import app

    @app.task(name="tests.refused_mail")
    def refused_mail():
        raise RuntimeError("550 mailbox unavailable")

    with pytest.raises(RuntimeError):
        refused_mail.delay()
    [task] = [line for line in json_log() if line["logger"] == "fisoko.task"]
    assert (task["task"], task["state"], task["level"]) == ("tests.refused_mail", "FAILURE", "WARNING")


def test_a_traceback_is_masked_too(json_log):
    try:
        raise RuntimeError("550 mailbox unavailable: director@school1234.ru")
    except RuntimeError:
        logging.getLogger("helpdesk.outbox").exception("Notification 7 failed")
    [line] = [line for line in json_log() if line["logger"] == "helpdesk.outbox"]
    assert "550 mailbox unavailable: d***@school1234.ru" in line["exception"]
    assert "director@" not in json.dumps(line)
