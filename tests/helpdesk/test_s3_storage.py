"""Attachments in an S3-compatible bucket (moto's server on loopback), configured by the S3_* variables."""

import importlib
import os
import secrets
import urllib.error
import urllib.request
from datetime import timedelta
from unittest import mock

import boto3
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

import fisoko_portal.settings
from helpdesk import services
from helpdesk.models import Attachment, Ticket, TicketEvent
from helpdesk.retention import orphaned_files_sweep, personal_data_purge
from tests.conftest import login_client, require_service
from tests.helpdesk.conftest import PDF, TICKET_DATA, pdf
from tests.integration.conftest import free_port

pytestmark = pytest.mark.django_db

BUCKET = "fisoko-attachments"


def storages_from_environment(**env):
    """STORAGES exactly as fisoko_portal/settings.py builds it from this environment."""
    try:
        with mock.patch.dict(os.environ, env):
            return importlib.reload(fisoko_portal.settings).STORAGES
    finally:
        importlib.reload(fisoko_portal.settings)


@pytest.fixture
def bucket(settings):
    """A private bucket on a local moto server, and the portal's default storage pointed at it."""
    port = free_port()
    try:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    except Exception as error:  # not installed, or cannot bind: one clear reason
        require_service(False, f"moto's S3 server could not start ({type(error).__name__}: {error})")
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": "fisoko-test",
        "S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "S3_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
        region_name=env["S3_REGION"],
    )
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = storages_from_environment(**env)
    client.endpoint, client.server = endpoint, server
    yield client
    server.stop()


def keys(client):
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_storage_is_the_private_s3_backend(bucket):
    from django.core.files.storage import storages
    from storages.backends.s3 import S3Storage

    storage = storages["default"]
    assert isinstance(storage, S3Storage) and storage.bucket_name == BUCKET
    assert storage.default_acl == "private" and storage.querystring_auth is True


def test_request_scan_lives_in_the_bucket_privately_and_leaves_with_retention(
    bucket, client, valid_data, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/apply/", {**valid_data, "attachments": [pdf()]})
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert keys(bucket) == [attachment.file.name]
    assert bucket.get_object(Bucket=BUCKET, Key=attachment.file.name)["Body"].read() == PDF

    # Nobody without the keys reads it: not by its plain URL, and the bucket grants nothing to all users.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{bucket.endpoint}/{BUCKET}/{attachment.file.name}", timeout=5)
    assert refused.value.code == 403
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=attachment.file.name)["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]

    # The operator downloads it through the staff-only view, which reads it from the bucket.
    operator.groups.add(Group.objects.get(name="Операторы техподдержки"))
    staff = login_client(operator)
    download = staff.get(f"/admin/helpdesk/ticket/attachment/{attachment.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    staff.get(f"/admin/helpdesk/ticket/{attachment.ticket_id}/change/")  # renders the preview into the bucket
    attachment.refresh_from_db()
    assert sorted(keys(bucket)) == sorted([attachment.file.name, attachment.preview.name])
    preview = staff.get(f"/admin/helpdesk/ticket/attachment/{attachment.pk}/preview/")
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")

    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_reject(ticket=ticket, by=operator, reason="Нет подписи руководителя")
    closed_at = TicketEvent.objects.get(ticket=ticket, to_status="rejected").created_at
    with django_capture_on_commit_callbacks(execute=True):
        assert personal_data_purge(now=closed_at + timedelta(days=91)) == 1
    assert keys(bucket) == []
    assert not Attachment.objects.exists()
    assert Ticket.objects.get().personal_data_removed_at is not None


def test_health_checks_the_bucket(bucket, client):
    assert client.get("/health/").json()["checks"]["storage"] == "ok"
    bucket.delete_bucket(Bucket=BUCKET)
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["failing"] == ["storage"]


def test_purge_with_the_bucket_unreachable_still_blanks_the_request_and_names_the_file(
    bucket, operator, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_submit(
            data=TICKET_DATA,
            files=[(pdf(), "scan.pdf", "application/pdf")],
        )
        services.ticket_reject(ticket=ticket, by=operator, reason="Нет подписи руководителя")
    name = ticket.attachments.get().file.name
    closed_at = TicketEvent.objects.get(ticket=ticket, to_status="rejected").created_at
    bucket.server.stop()
    with django_capture_on_commit_callbacks(execute=True):
        assert personal_data_purge(now=closed_at + timedelta(days=91)) == 1
    assert Ticket.objects.get().email == ""
    assert f"Could not delete attachment file {name}" in caplog.text

    # The bucket is back (moto keeps its objects in this process): the daily sweep deletes the file
    # that no row names any more, once it is a day old.
    host, port = bucket.server._ip_address, bucket.server._port
    bucket.server = type(bucket.server)(ip_address=host, port=port, verbose=False)
    bucket.server.start()
    assert keys(bucket) == [name]
    assert orphaned_files_sweep() == 0  # written moments ago: perhaps an upload not committed yet
    assert orphaned_files_sweep(now=timezone.now() + timedelta(days=1, minutes=1)) == 1
    assert keys(bucket) == []


def test_sweep_deletes_only_day_old_objects_that_no_row_names(bucket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_submit(data=TICKET_DATA, files=[(pdf(), "scan.pdf", "application/pdf")])
    named = Attachment.objects.get().file.name
    bucket.put_object(Bucket=BUCKET, Key="tickets/0123456789abcdef.pdf", Body=PDF)
    bucket.put_object(Bucket=BUCKET, Key="previews/0123456789abcdef.png", Body=b"not an attachment")

    assert orphaned_files_sweep(now=timezone.now() + timedelta(days=2)) == 1

    assert sorted(keys(bucket)) == sorted([named, "previews/0123456789abcdef.png"])
