"""Every staff download or preview of a scan is recorded and shown to staff."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.models import User
from helpdesk import services
from helpdesk.models import Access, AttachmentDownload
from tests.conftest import PASSWORD, login_client
from tests.helpdesk.conftest import TICKET_DATA, pdf

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/helpdesk/attachmentdownload/"


def as_operator(user):
    user.groups.add(Group.objects.get(name="Операторы техподдержки"))
    return user


@pytest.fixture
def operator(operator):
    return as_operator(operator)


@pytest.fixture
def other_operator(db):
    return as_operator(User.objects.create_user("operator2", password=PASSWORD, is_staff=True))


@pytest.fixture
def op(operator):
    return login_client(operator)


@pytest.fixture
def ticket(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.ticket_submit(
            data=TICKET_DATA, files=[(pdf("письмо.pdf"), "Письмо школы 1234.pdf", "application/pdf")]
        )


def attachment_url(ticket, view):
    return f"/admin/helpdesk/ticket/attachment/{ticket.attachments.get().pk}/{view}/"


def cells(html, field):
    """The text of each table cell of ``field`` on an admin page (list or inline)."""
    found = re.findall(rf'<t[dh] class="field-{field}[ "].*?</t[dh]>', html, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip() for cell in found]


def test_a_download_is_recorded_with_the_user_and_the_file_name(op, operator, ticket):
    response = op.get(attachment_url(ticket, "download"))

    assert response.status_code == 200
    download = AttachmentDownload.objects.get()
    assert download.user == operator
    assert download.ticket == ticket
    assert download.attachment == ticket.attachments.get()
    assert download.file_name == "Письмо школы 1234.pdf"
    assert download.at is not None


def test_the_request_page_lists_its_downloads(op, ticket):
    op.get(attachment_url(ticket, "download"))

    html = op.get(f"/admin/helpdesk/ticket/{ticket.pk}/change/").content.decode()

    assert "Скачивания" in html
    assert cells(html, "user") == ["operator"]
    assert cells(html, "file_name") == ["Письмо школы 1234.pdf"]


def test_operators_see_downloads_in_a_read_only_list(op, ticket):
    op.get(attachment_url(ticket, "download"))

    response = op.get(LIST_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert cells(html, "user") == ["operator"]
    assert cells(html, "ticket") == [f"№ {ticket.number}"]
    assert cells(html, "file_name") == ["Письмо школы 1234.pdf"]
    assert f'href="{LIST_URL}add/"' not in html and "delete_selected" not in html
    download = AttachmentDownload.objects.get()
    detail = op.get(f"{LIST_URL}{download.pk}/change/").content.decode()
    assert 'name="file_name"' not in detail  # shown, not editable
    assert op.get(f"{LIST_URL}add/").status_code == 403
    assert op.post(f"{LIST_URL}{download.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AttachmentDownload.objects.count() == 1


def test_the_list_filters_by_user_and_date(op, ticket, operator, other_operator):
    op.get(attachment_url(ticket, "download"))
    login_client(other_operator).get(attachment_url(ticket, "download"))
    AttachmentDownload.objects.filter(user=other_operator).update(at=timezone.now() - timedelta(days=10))
    page = op.get(LIST_URL).content.decode()
    today_link = unescape(re.search(r'<a href="(\?[^"]*)">Сегодня</a>', page).group(1))

    mine = op.get(LIST_URL, {"user__id__exact": operator.pk}).content.decode()
    theirs = op.get(LIST_URL, {"user__id__exact": other_operator.pk}).content.decode()
    today = op.get(LIST_URL + today_link).content.decode()

    assert cells(page, "user") == ["operator", "operator2"]
    assert cells(mine, "user") == ["operator"]
    assert cells(theirs, "user") == ["operator2"]
    assert cells(today, "user") == ["operator"]


def test_a_preview_is_recorded_as_a_view(op, operator, ticket):
    op.get(f"/admin/helpdesk/ticket/{ticket.pk}/change/")  # renders the preview (tasks run eagerly)

    assert op.get(attachment_url(ticket, "preview")).status_code == 200

    seen = AttachmentDownload.objects.get()
    assert (seen.user, seen.attachment, seen.kind) == (operator, ticket.attachments.get(), Access.PREVIEW)
    assert seen.file_name == "Письмо школы 1234.pdf"
    html = op.get(LIST_URL).content.decode()
    assert cells(html, "kind") == ["просмотр"]
    assert cells(op.get(LIST_URL, {"kind__exact": "download"}).content.decode(), "kind") == []


@pytest.mark.parametrize("view", ["download", "preview"])
@pytest.mark.parametrize("who", ["anonymous", "school", "staff_without_perms"])
def test_a_refused_download_records_nothing(request, ticket, who, view):
    ticket.attachments.get().render_preview()
    if who == "staff_without_perms":
        client = login_client(User.objects.create_user("intern", password=PASSWORD, is_staff=True))
    else:
        client = Client() if who == "anonymous" else login_client(request.getfixturevalue(who))

    assert client.get(attachment_url(ticket, view)).status_code == 404
    assert not AttachmentDownload.objects.exists()


def test_a_missing_file_records_nothing(op, ticket):
    attachment = ticket.attachments.get()
    attachment.file.storage.delete(attachment.file.name)

    assert op.get(attachment_url(ticket, "download")).status_code == 404
    assert not AttachmentDownload.objects.exists()
