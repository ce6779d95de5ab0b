import io
import tracemalloc

import pytest
from django.core.handlers.wsgi import WSGIHandler

from helpdesk.models import Attachment, Ticket
from tests.helpdesk.conftest import PDF

pytestmark = pytest.mark.django_db(transaction=True)

FORTY_MB = 40 * 1024 * 1024
CSRF = "a" * 32
BOUNDARY = "----fisoko-test-boundary"


def write_multipart(path, fields, file_size):
    """A multipart body with one PDF of ``file_size`` bytes, written to disk in chunks."""
    with open(path, "wb") as out:
        for name, value in fields.items():
            out.write(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(f"{value}\r\n".encode())
        out.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachments"; filename="scan.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
        )
        out.write(PDF)
        chunk = b"\0" * (1024 * 1024)
        left = file_size - len(PDF)
        while left:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
        out.write(f"\r\n--{BOUNDARY}--\r\n".encode())


def test_40_mb_upload_streams_to_disk_not_memory(valid_data, tmp_path, media_root, capsys, reference_data):
    body = tmp_path / "body.bin"
    write_multipart(body, {**valid_data, "csrfmiddlewaretoken": CSRF}, FORTY_MB)
    handler = WSGIHandler()
    status = []
    with open(body, "rb") as stream:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/apply/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_COOKIE": f"csrftoken={CSRF}",
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
            "CONTENT_LENGTH": str(body.stat().st_size),
            "wsgi.input": stream,
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
        }
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        response = handler(environ, lambda s, headers: status.append(s))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        response.close()  # as a WSGI server does: closes the uploaded temporary files

    growth = peak - before
    with capsys.disabled():
        print(f"\n40 MB upload: peak Python memory growth {growth / 1024 / 1024:.2f} MiB")
    assert status == ["302 Found"]
    assert Ticket.objects.count() == 1 and Attachment.objects.get().size == FORTY_MB
    assert (media_root / Attachment.objects.get().file.name).stat().st_size == FORTY_MB
    assert growth < 16 * 1024 * 1024
