import os
import socket
import stat
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from helpdesk.sms import BaseBackend, Outcome, SmsError, SmsMessage, get_backend, locmem
from helpdesk.sms.console import ConsoleBackend
from helpdesk.sms.file import FileBackend
from helpdesk.sms.locmem import LocmemBackend
from helpdesk.sms.smsc import SmscBackend
from tests.smsc_server import SmscServer

PHONE = "+79161234567"
TEXT = "Ваш пароль: Qx7-тайна-42"
PASSWORD = "secret"


class DummyBackend(BaseBackend):
    def send(self, message):
        return "dummy"


@pytest.fixture(autouse=True)
def _empty_outbox():
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def smsc(settings):
    with SmscServer(login="fisoko", password=PASSWORD) as server:
        settings.SMS_BACKEND = "smsc"
        settings.SMSC_URL = server.url
        settings.SMSC_LOGIN = "fisoko"
        settings.SMSC_PASSWORD = PASSWORD
        settings.SMSC_SENDER = ""
        settings.SMSC_TIMEOUT = 5.0
        yield server


def send_expecting_error(message=None):
    with pytest.raises(SmsError) as info:
        SmscBackend().send(message or SmsMessage(PHONE, TEXT))
    assert TEXT not in str(info.value)
    assert PASSWORD not in str(info.value)
    return info.value


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# get_backend


@pytest.mark.parametrize(
    "name, cls",
    [("console", ConsoleBackend), ("file", FileBackend), ("locmem", LocmemBackend), ("smsc", SmscBackend)],
)
def test_get_backend_returns_an_instance_of_the_named_backend(settings, name, cls):
    settings.SMS_BACKEND = name
    assert type(get_backend()) is cls


def test_get_backend_imports_a_dotted_path(settings):
    settings.SMS_BACKEND = "tests.helpdesk.test_sms.DummyBackend"
    assert isinstance(get_backend(), DummyBackend)


def test_get_backend_reads_the_setting_at_each_call(settings):
    settings.SMS_BACKEND = "console"
    assert isinstance(get_backend(), ConsoleBackend)
    settings.SMS_BACKEND = "locmem"
    assert isinstance(get_backend(), LocmemBackend)


@pytest.mark.parametrize("name", ["carrier-pigeon", "helpdesk.sms.NoSuchBackend"])
def test_get_backend_with_an_unknown_name_is_improperly_configured(settings, name):
    settings.SMS_BACKEND = name
    with pytest.raises(ImproperlyConfigured, match=name):
        get_backend()


def test_sms_error_is_transient_unless_said_otherwise():
    assert SmsError("x").permanent is False
    assert SmsError("x", permanent=True).permanent is True


def test_message_repr_hides_the_text():
    assert TEXT not in repr(SmsMessage(PHONE, TEXT))


# Local backends


def test_file_backend_writes_a_private_file_with_phone_and_text(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path / "sms"

    provider_id = get_backend().send(SmsMessage(PHONE, TEXT))

    path = tmp_path / "sms" / f"{provider_id}.txt"
    assert [p.name for p in (tmp_path / "sms").iterdir()] == [path.name]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "sms").st_mode) == 0o700
    content = path.read_text(encoding="utf-8")
    assert content.startswith(f"To: {PHONE}\nDate: ")
    assert content.endswith(f"\n\n{TEXT}\n")


def test_file_backend_names_each_file_by_time_and_random_suffix(settings, tmp_path):
    settings.SMS_FILE_PATH = tmp_path
    first = FileBackend().send(SmsMessage(PHONE, "1"))
    second = FileBackend().send(SmsMessage(PHONE, "2"))
    assert first != second
    date, clock, suffix = first.split("-")
    assert len(date) == 8 and len(clock) == 6 and len(suffix) == 8
    int(suffix, 16)


def test_file_backend_failure_is_an_sms_error(settings, tmp_path):
    (tmp_path / "occupied").write_text("not a directory")
    settings.SMS_FILE_PATH = tmp_path / "occupied"
    with pytest.raises(SmsError):
        FileBackend().send(SmsMessage(PHONE, TEXT))


def test_locmem_backend_collects_messages_in_the_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    first = get_backend().send(SmsMessage(PHONE, TEXT))
    second = get_backend().send(SmsMessage("+79990000000", "второе"))
    assert locmem.outbox == [SmsMessage(PHONE, TEXT), SmsMessage("+79990000000", "второе")]
    assert first.startswith("locmem-") and second.startswith("locmem-") and first != second


def test_console_backend_prints_phone_and_text(settings, capsys):
    settings.SMS_BACKEND = "console"
    assert get_backend().send(SmsMessage(PHONE, TEXT)) == ""
    assert capsys.readouterr().out == f"SMS to {PHONE}:\n{TEXT}\n"


# SMSC against a real local HTTP server


def test_smsc_success_returns_the_provider_id_and_posts_every_field(smsc, settings):
    settings.SMSC_SENDER = "FISOKO"

    provider_id = get_backend().send(SmsMessage(PHONE, TEXT))

    assert provider_id == "1"
    assert smsc.messages == [
        {
            "login": "fisoko",
            "psw": PASSWORD,
            "phones": PHONE,
            "mes": TEXT,
            "sender": "FISOKO",
            "charset": "utf-8",
            "fmt": "3",
        }
    ]


def test_smsc_without_a_sender_setting_posts_no_sender(smsc):
    assert SmscBackend().send(SmsMessage(PHONE, TEXT)) == "1"
    assert SmscBackend().send(SmsMessage(PHONE, TEXT)) == "2"
    assert "sender" not in smsc.messages[0]
    assert smsc.wait_for(2, timeout=1)


def test_smsc_bad_number_error_7_is_permanent(smsc):
    smsc.fail_next(1, 7)
    error = send_expecting_error()
    assert error.permanent is True
    assert "SMSC error 7: invalid number format" in str(error)
    assert smsc.messages == []


@pytest.mark.parametrize("code", [3, 4, 9])
def test_smsc_errors_3_4_9_are_transient(smsc, code):
    smsc.fail_next(1, code)
    error = send_expecting_error()
    assert error.permanent is False
    assert f"SMSC error {code}" in str(error)


@pytest.mark.parametrize("code", [1, 5, 6, 8])
def test_smsc_other_errors_are_permanent(smsc, code):
    smsc.fail_next(1, code)
    assert send_expecting_error().permanent is True


def test_smsc_scripted_failures_end_and_the_retry_is_delivered(smsc):
    smsc.fail_next(2, 9)
    send_expecting_error()
    send_expecting_error()
    assert SmscBackend().send(SmsMessage(PHONE, TEXT)) == "1"
    assert len(smsc.messages) == 1 and len(smsc.requests) == 3


def test_smsc_wrong_credentials_are_permanent(smsc, settings):
    settings.SMSC_PASSWORD = "wrong-" + PASSWORD
    error = send_expecting_error()
    assert error.permanent is True
    assert "SMSC error 2" in str(error)
    assert "wrong-" not in str(error)


def test_smsc_without_credentials_fails_permanently_without_a_request(smsc, settings):
    settings.SMSC_LOGIN = ""
    assert send_expecting_error().permanent is True
    assert smsc.requests == []


def test_smsc_hanging_server_times_out_as_transient(smsc, settings):
    settings.SMSC_TIMEOUT = 0.5
    smsc.hang_next(1, 5)
    started = time.monotonic()
    error = send_expecting_error()
    assert time.monotonic() - started < 2
    assert error.permanent is False


def test_smsc_slow_but_timely_answer_is_a_success(smsc):
    smsc.hang_next(1, 0.2)
    assert SmscBackend().send(SmsMessage(PHONE, TEXT)) == "1"


def test_smsc_request_abandoned_on_timeout_is_not_delivered(smsc, settings):
    settings.SMSC_TIMEOUT = 0.3
    smsc.hang_next(1, 0.8)
    send_expecting_error()
    time.sleep(1)
    assert smsc.messages == []


def test_smsc_nothing_listening_is_transient(settings):
    settings.SMSC_URL = f"http://127.0.0.1:{closed_port()}/sys/send.php"
    settings.SMSC_LOGIN = "fisoko"
    settings.SMSC_PASSWORD = PASSWORD
    error = send_expecting_error()
    assert error.permanent is False


def test_smsc_http_4xx_is_permanent(smsc, settings):
    settings.SMSC_URL = smsc.url.replace("/sys/send.php", "/elsewhere")  # the fake answers 404
    assert send_expecting_error().permanent is True


def test_smsc_non_json_answer_and_http_5xx_are_transient(settings):
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status = 502 if self.path == "/bad-gateway" else 200
            body = b"<html>maintenance</html>"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        settings.SMSC_LOGIN = "fisoko"
        settings.SMSC_PASSWORD = PASSWORD
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        settings.SMSC_URL = f"{base}/sys/send.php"
        error = send_expecting_error()
        assert error.permanent is False and "JSON" in str(error)
        settings.SMSC_URL = f"{base}/bad-gateway"
        error = send_expecting_error()
        assert error.permanent is False and "502" in str(error)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_smsc_server_accepts_get_query_strings(smsc):
    from urllib.parse import urlencode
    from urllib.request import urlopen

    query = urlencode({"login": "fisoko", "psw": PASSWORD, "phones": PHONE, "mes": TEXT, "fmt": "3"})
    with urlopen(f"{smsc.url}?{query}", timeout=5) as response:
        assert response.read() == b'{"id": 1, "cnt": 1}'
    assert smsc.messages[0]["mes"] == TEXT


def test_smsc_logs_the_phone_and_id_but_never_the_text(smsc, caplog):
    caplog.set_level("DEBUG")
    SmscBackend().send(SmsMessage(PHONE, TEXT))
    smsc.fail_next(1, 8)
    send_expecting_error()
    assert PHONE in caplog.text and "id 1" in caplog.text
    assert TEXT not in caplog.text and PASSWORD not in caplog.text


# The sender's message id and the status API


def test_smsc_posts_the_senders_id_and_the_answer_carries_it(smsc):
    assert SmscBackend().send(SmsMessage(PHONE, TEXT, id="4201")) == "4201"
    assert smsc.messages[0]["id"] == "4201"


def test_smsc_status_knows_a_message_it_took_and_not_one_it_never_got(smsc):
    SmscBackend().send(SmsMessage(PHONE, TEXT, id="4201"))
    assert SmscBackend().status(SmsMessage(PHONE, "", id="4201")) is Outcome.ACCEPTED
    assert SmscBackend().status(SmsMessage(PHONE, "", id="4202")) is Outcome.NOT_FOUND
    assert SmscBackend().status(SmsMessage("+79990000000", "", id="4201")) is Outcome.NOT_FOUND
    status_request = smsc.requests[-1]
    assert {k: status_request[k] for k in ("login", "psw", "phone", "id", "fmt")} == {
        "login": "fisoko",
        "psw": PASSWORD,
        "phone": "+79990000000",
        "id": "4201",
        "fmt": "3",
    }


@pytest.mark.parametrize(
    "status, outcome",
    [(-1, "accepted"), (0, "accepted"), (1, "accepted"), (-3, "not_found"), (20, "failed"), (22, "failed")],
)
def test_smsc_status_codes_read_as_the_documentation_says(smsc, status, outcome, monkeypatch):
    monkeypatch.setattr(smsc, "status_of", lambda phone, message_id: status)
    assert SmscBackend().status(SmsMessage(PHONE, "", id="1")).value == outcome


def test_smsc_status_error_is_an_sms_error(smsc, settings):
    settings.SMSC_PASSWORD = "wrong"
    with pytest.raises(SmsError, match="SMSC error 2"):
        SmscBackend().status(SmsMessage(PHONE, "", id="1"))


def test_smsc_answer_lost_after_the_message_was_taken_is_unclear_and_the_status_says_taken(smsc, settings):
    settings.SMSC_TIMEOUT = 0.5
    smsc.answer_late_next(1, 2)
    error = send_expecting_error(SmsMessage(PHONE, TEXT, id="7"))
    assert error.unclear is True and error.permanent is False
    assert "did not answer" in str(error)
    assert SmscBackend().status(SmsMessage(PHONE, "", id="7")) is Outcome.ACCEPTED

    smsc.drop_after_accept_next(1)
    error = send_expecting_error(SmsMessage(PHONE, TEXT, id="8"))
    assert error.unclear is True
    assert SmscBackend().status(SmsMessage(PHONE, "", id="8")) is Outcome.ACCEPTED


def test_smsc_refusals_are_not_unclear(smsc, settings):
    smsc.fail_next(1, 9)
    assert send_expecting_error().unclear is False
    smsc.fail_next(1, 7)
    assert send_expecting_error().unclear is False
    settings.SMSC_URL = f"http://127.0.0.1:{closed_port()}/sys/send.php"
    assert send_expecting_error().unclear is False  # nothing listening: nothing was sent
