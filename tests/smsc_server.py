"""A fake SMSC.ru ``/sys/send.php`` and ``/sys/status.php`` on 127.0.0.1 for tests, with scripted
failures, hangs and answers lost after the message was taken.

    with SmscServer() as server:
        settings.SMSC_URL = server.url
        settings.SMSC_LOGIN, settings.SMSC_PASSWORD = server.login, server.password
        server.fail_next(1, 9)       # the next request answers {"error": ..., "error_code": 9}
        server.hang_next(1, 5)       # the next request waits 5 s before it is handled
        server.hang_next(1, 5, deliver=True)  # ... and is delivered even if the client gave up
        server.answer_late_next(1, 5)  # the next message is taken at once, its answer sent 5 s later
        server.drop_after_accept_next(1)  # the next message is taken, the connection closed unanswered
        ...
        assert server.wait_for(1)
        assert server.messages[0]["mes"] == "..."

``messages`` holds the form fields (each a str) of every successful delivery only; ``requests`` holds
those of every request that reached the handler, failures included. A hung request whose client has
given up (closed the connection) by the time the hang ends is dropped without being delivered, unless
it was scripted with ``deliver=True``: then it is delivered all the same, as a real gateway that got
the request sends the SMS whether or not its answer still reaches the client.

A message sent with an ``id`` keeps it (the answer carries it back); ``status.php`` with ``phone`` and
``id`` answers ``{"status": 1}`` (delivered) for a message it took and ``{"status": -3}`` (not found)
for any other, as SMSC does.
"""

import itertools
import json
import select
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH = "/sys/send.php"
STATUS_PATH = "/sys/status.php"
STATUS_DELIVERED, STATUS_NOT_FOUND = 1, -3

ERRORS = {
    1: "ошибка в параметрах",
    2: "неверный логин или пароль",
    3: "недостаточно средств на счете клиента",
    4: "IP-адрес временно заблокирован",
    5: "неверный формат даты",
    6: "сообщение запрещено",
    7: "неверный формат номера телефона",
    8: "сообщение на указанный номер не может быть доставлено",
    9: "отправка более одного одинакового запроса",
}


class SmscServer:
    def __init__(self, login="fisoko", password="secret"):
        self.login = login
        self.password = password
        self.messages = []  # delivered messages; appended under the lock
        self.requests = []  # every handled request
        self._lock = threading.Lock()
        self._delivered = threading.Condition(self._lock)
        self._failures = deque()  # error codes, one per coming request
        self._hangs = deque()  # (seconds, deliver), one per coming request
        self._after_accept = deque()  # ("late", seconds) or ("drop", 0), one per coming message taken
        self._taken = set()  # (phone, id) of every message taken
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.smsc = self
        self._thread = None
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}{PATH}"

    # Lifecycle

    def start(self):
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="SmscServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()  # wakes hung handlers
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # Scripting

    def fail_next(self, n, error_code):
        """The next ``n`` requests answer ``{"error": ..., "error_code": error_code}``."""
        with self._lock:
            self._failures.extend([error_code] * n)

    def hang_next(self, n, seconds, *, deliver=False):
        """The next ``n`` requests wait ``seconds`` before they are handled.

        With ``deliver``, a request whose client gave up meanwhile is still delivered (no answer is sent).
        """
        with self._lock:
            self._hangs.extend([(seconds, deliver)] * n)

    def answer_late_next(self, n, seconds):
        """The next ``n`` messages are taken at once (delivered, known to status.php); each answer is
        sent ``seconds`` later, and not at all if the client gave up meanwhile."""
        with self._lock:
            self._after_accept.extend([("late", seconds)] * n)

    def drop_after_accept_next(self, n):
        """The next ``n`` messages are taken, and their connections closed without an answer."""
        with self._lock:
            self._after_accept.extend([("drop", 0)] * n)

    def status_of(self, phone, message_id):
        with self._lock:
            return STATUS_DELIVERED if (phone, str(message_id)) in self._taken else STATUS_NOT_FOUND

    def wait_for(self, count, timeout=30):
        """Wait until at least ``count`` messages were delivered; False on timeout."""
        with self._delivered:
            return self._delivered.wait_for(lambda: len(self.messages) >= count, timeout=timeout)

    # Handling (called from request threads)

    def _take(self, queue):
        with self._lock:
            return queue.popleft() if queue else None

    def _answer(self, fields):
        """The JSON answer for one request's form fields."""
        with self._lock:
            self.requests.append(fields)
        code = self._take(self._failures)
        if code is None and (fields.get("login") != self.login or fields.get("psw") != self.password):
            code = 2
        if code is None and not (fields.get("phones") and fields.get("mes")):
            code = 1
        if code is not None:
            return {"error": ERRORS.get(code, "ошибка"), "error_code": code}
        with self._delivered:
            message_id = fields.get("id") or next(self._ids)
            self._taken.add((fields["phones"], str(message_id)))
            self.messages.append(fields)
            self._delivered.notify_all()
        return {"id": int(message_id), "cnt": 1}

    def _status_answer(self, fields):
        with self._lock:
            self.requests.append(fields)
        if fields.get("login") != self.login or fields.get("psw") != self.password:
            return {"error": ERRORS[2], "error_code": 2}
        if not (fields.get("phone") and fields.get("id")):
            return {"error": ERRORS[1], "error_code": 1}
        return {"status": self.status_of(fields["phone"], fields["id"]), "last_timestamp": 0}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlsplit(self.path)
        self._handle(url.path, url.query)

    def do_POST(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        self._handle(url.path, body)

    def _handle(self, path, query):
        smsc = self.server.smsc
        fields = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
        if path == STATUS_PATH:
            self._reply(200, smsc._status_answer(fields))
            return
        if path != PATH:
            self._reply(404, {"error": "not found"})
            return
        hang = smsc._take(smsc._hangs)
        if hang is not None:
            delay, deliver = hang
            smsc._stopping.wait(delay)
            if smsc._stopping.is_set():
                self.close_connection = True
                return
            if self._client_gone():
                if deliver:
                    smsc._answer(fields)
                self.close_connection = True
                return
        answer = smsc._answer(fields)
        after = smsc._take(smsc._after_accept) if "id" in answer else None
        if after is not None:
            how, delay = after
            if how == "drop":
                self.close_connection = True
                return
            smsc._stopping.wait(delay)
            if smsc._stopping.is_set() or self._client_gone():
                self.close_connection = True
                return
        self._reply(200, answer)

    def _client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _reply(self, status, answer):
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def log_message(self, format, *args):
        pass
