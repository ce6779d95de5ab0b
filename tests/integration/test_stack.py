"""`make stack` as an operator runs it: bin/stack serves the portal through gunicorn, a Celery worker
and beat; a request filed over HTTP gets its email; Ctrl-C leaves no process behind."""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.helpdesk.conftest import PDF
from tests.integration.conftest import BASE_DIR, free_port, text_of, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def descendants(pid):
    """Every process started, directly or not, by ``pid`` (from /proc, as ps would show)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"


def test_stack_serves_files_a_request_mails_it_and_stops_on_ctrl_c(real_parts, valid_data, tmp_path):
    mailbox = real_parts.mailbox
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **real_parts.worker.env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DEBUG": "0",
        "SECRET_KEY": "stack-test-" + os.urandom(24).hex(),
    }
    log = open(tmp_path / "stack.log", "wb")  # noqa: SIM115 - closed below
    stack = subprocess.Popen(
        [str(BASE_DIR / "bin" / "stack")],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    processes = []
    try:
        assert wait_until(lambda: stack.poll() is not None or _answers(base), 60), "the stack did not serve"
        assert stack.poll() is None, (tmp_path / "stack.log").read_text()[-3000:]
        processes = descendants(stack.pid)
        names = " ".join(command(p) for p in processes)
        assert "gunicorn" in names and "worker" in names and "beat" in names, names

        health = requests.get(f"{base}/health/", timeout=5)
        assert health.status_code == 200 and health.json()["checks"]["redis"] == "ok", health.text
        assert requests.get(f"{base}/static/css/portal.css", timeout=5).status_code == 200

        form = requests.get(f"{base}/apply/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        # The CSRF cookie is Secure (DEBUG=0), which requests keeps off plain HTTP: send it by hand.
        cookie = {"Cookie": f"csrftoken={form.cookies['csrftoken']}"}
        filed = requests.post(
            f"{base}/apply/",
            data={**valid_data, "csrfmiddlewaretoken": token},
            files={"attachments": ("scan.pdf", PDF, "application/pdf")},
            headers=cookie,
            allow_redirects=False,
            timeout=30,
        )
        assert filed.status_code == 302 and filed.headers["Location"] == "/apply/done/", filed.text[-2000:]
        assert mailbox.wait_for(1, timeout=30), "the confirmation email did not arrive"
        assert mailbox.messages[0]["To"] == valid_data["email"]
        assert re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", text_of(mailbox.messages[0]))

        os.killpg(stack.pid, signal.SIGINT)  # Ctrl-C
        stack.wait(timeout=30)
        assert wait_until(lambda: not [p for p in processes if alive(p)], 15), [
            command(p) for p in processes if alive(p)
        ]
    finally:
        # A failed test must not leave a worker behind to take the next run's tasks: gunicorn, the
        # worker and beat each run in a session of their own, so they are found by descent, not group.
        processes = set(processes) | set(descendants(stack.pid))
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGINT)
            try:
                stack.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
        for pid in processes:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _answers(base):
    try:
        return requests.get(f"{base}/health/", timeout=5).status_code in (200, 503)
    except requests.RequestException:  # not listening yet, or still booting its workers
        return False
