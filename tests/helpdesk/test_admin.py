"""Support staff processing requests in the Django admin (SPEC §4.4)."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from demo.management.commands.seed_demo import OPERATOR_LOGIN, OPERATOR_PASSWORD
from helpdesk import outbox, services
from helpdesk.admin import COUNT_CAP
from helpdesk.models import Delivery, Kind, Notification, Status, Ticket
from helpdesk.sms import locmem
from tests.conftest import PASSWORD, login_client
from tests.helpdesk.conftest import PDF, TICKET_DATA, pdf

pytestmark = pytest.mark.django_db

OPERATORS_GROUP = "Операторы техподдержки"
LIST_URL = "/admin/helpdesk/ticket/"

COORDINATOR_DATA = {
    **TICKET_DATA,
    "organization_name": "Министерство образования Московской области",
    "information_system": "espd",
    "region_id": "50",
    "phone": "+79031112233",
    "email": "coord@mosreg.ru",
    "organization_type": "executive",
    "login": "reg50_vpr",
}


@pytest.fixture(autouse=True)
def _sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def operator(operator):
    """The staff user of the story: a member of the operators' group, not a superuser."""
    operator.groups.add(Group.objects.get(name=OPERATORS_GROUP))
    return operator


@pytest.fixture
def staff_without_perms(db):
    return User.objects.create_user("intern", password=PASSWORD, is_staff=True)


@pytest.fixture
def op(operator):
    return login_client(operator)


@pytest.fixture
def file_ticket(django_capture_on_commit_callbacks):
    """File a request as /apply/ does: one PDF scan, the confirmation email sent."""

    def file(**changes):
        with django_capture_on_commit_callbacks(execute=True):
            return services.ticket_submit(
                data={**TICKET_DATA, **changes}, files=[(pdf(), "scan.pdf", "application/pdf")]
            )

    return file


@pytest.fixture
def ticket(file_ticket):
    return file_ticket()


def change_url(ticket):
    return f"/admin/helpdesk/ticket/{ticket.pk}/change/"


def action_url(ticket, action):
    return f"/admin/helpdesk/ticket/{ticket.pk}/{action}/"


def messages_on(response):
    return [str(m) for m in response.context["messages"]]


# The list


def test_operator_sees_the_request_in_the_list(op, ticket):
    response = op.get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert ticket.number in html
    assert '<td class="field-login">sch771234</td>' in html
    assert '<td class="field-organization_name">ГБОУ «Школа № 1234»</td>' in html
    assert re.search(r'<td class="field-status_badge"><span [^>]*>Новая</span></td>', html)
    assert '<td class="field-files">1</td>' in html


@pytest.fixture
def two_tickets(file_ticket, operator, django_capture_on_commit_callbacks):
    """A: a school's new request in 77. B: a coordinator's request in 50, taken by the operator."""
    school_ticket = file_ticket()
    coordinator_ticket = file_ticket(**COORDINATOR_DATA)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_take(ticket=coordinator_ticket, by=operator)
    return school_ticket, coordinator_ticket


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status__exact": "new"}, "school"),
        ({"status__exact": "in_progress"}, "coordinator"),
        ({"region__code__exact": "77"}, "school"),
        ({"region__code__exact": "50"}, "coordinator"),
        ({"role__exact": "school"}, "school"),
        ({"role__exact": "regional_vpr"}, "coordinator"),
        ({"information_system__exact": "fis_oko"}, "school"),
        ({"information_system__exact": "espd"}, "coordinator"),
        ({"mine": "1"}, "coordinator"),
        ({"mine": "none"}, "school"),
    ],
)
def test_each_filter_narrows_the_list(op, two_tickets, query, expected):
    school_ticket, coordinator_ticket = two_tickets
    shown, hidden = (
        (school_ticket, coordinator_ticket) if expected == "school" else (coordinator_ticket, school_ticket)
    )
    response = op.get(LIST_URL, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert shown.number in html
    assert hidden.number not in html


def test_mine_filter_is_offered_as_moi_zayavki(op, two_tickets):
    html = op.get(LIST_URL).content.decode()
    assert "Мои заявки" in html


@pytest.mark.parametrize(
    "term",
    [
        "number",
        "number in lower case",
        "sch771234",
        "director@school1234.ru",
        "DIRECTOR@school1234.ru",
        "+79123456789",
        "Школа",
    ],
)
def test_search_finds_the_request(op, two_tickets, term):
    school_ticket, coordinator_ticket = two_tickets
    if term.startswith("number"):
        term = school_ticket.number.lower() if "lower" in term else school_ticket.number
    html = op.get(LIST_URL, {"q": term}).content.decode()
    assert school_ticket.number in html
    assert coordinator_ticket.number not in html


@pytest.mark.parametrize("term", ["8 912 345-67-89", "89123456789", "9123456789", "+7 (912) 345-67-89"])
def test_search_finds_the_request_by_the_phone_as_people_type_it(op, two_tickets, term):
    school_ticket, coordinator_ticket = two_tickets
    html = op.get(LIST_URL, {"q": term}).content.decode()
    assert school_ticket.number in html
    assert coordinator_ticket.number not in html


@pytest.mark.parametrize("typed", ["АВСЕ-НК23", "авсе нк23", "АВСЕНК23", "abcehk23", "abce hk 23"])
def test_search_finds_the_request_by_a_number_typed_in_the_russian_layout(op, two_tickets, typed):
    school_ticket, coordinator_ticket = two_tickets
    Ticket.objects.filter(pk=school_ticket.pk).update(number="ABCE-HK23")
    html = op.get(LIST_URL, {"q": typed}).content.decode()
    assert "ABCE-HK23" in html
    assert coordinator_ticket.number not in html


@pytest.mark.parametrize("typed", ["авсе нк23", "8 912 345-67-89"])
def test_search_by_a_typed_number_or_phone_reads_only_its_own_index(op, django_assert_max_num_queries, typed):
    make_tickets(60)
    Ticket.objects.filter(pk=Ticket.objects.first().pk).update(number="ABCE-HK23")
    op.get(LIST_URL, {"q": typed})  # warm the caches that a first request fills
    with django_assert_max_num_queries(10) as captured:
        assert op.get(LIST_URL, {"q": typed}).status_code == 200
    searched = [
        q["sql"] for q in captured.captured_queries if "organization_name" in q["sql"] and "LIKE" in q["sql"]
    ]
    assert searched, "the search ran no query"
    field = '"number"' if "авсе" in typed else '"phone"'
    for sql in searched:
        assert f'UPPER("helpdesk_ticket".{field}' in sql, sql
        assert ("ABCE-HK23" in sql) == ("авсе" in typed)


def make_tickets(n):
    Ticket.objects.bulk_create(
        [Ticket(**{**TICKET_DATA, "login": f"sch77{i:06d}"}, role="school") for i in range(n)]
    )


def list_queries(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(LIST_URL).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_list_runs_as_many_queries_for_2000_requests_as_for_20(op):
    make_tickets(20)
    list_queries(op)  # warm the caches that a first request fills
    few = list_queries(op)
    make_tickets(1980)
    many = list_queries(op)
    assert Ticket.objects.count() == 2000
    assert len(many) == len(few), "\n".join(many)


def test_list_never_counts_the_whole_table(op):
    make_tickets(60)
    queries = list_queries(op)
    counts = [sql for sql in queries if "COUNT(*)" in sql.upper()]
    assert counts, queries
    for sql in counts:
        assert re.search(rf"LIMIT {COUNT_CAP + 1}\b", sql), sql


def test_list_shows_the_notification_backlog_and_links_to_it(op, settings, file_ticket):
    file_ticket()  # its confirmation went out
    settings.EMAIL_BACKEND = "tests.helpdesk.failing_mail.FailingBackend"
    retrying = file_ticket(login="sch770017").notifications.get()
    given_up = file_ticket(login="sch775601").notifications.get()
    while given_up.status == Delivery.PENDING:
        outbox.deliver(given_up.pk)
        given_up.refresh_from_db()
    assert given_up.status == Delivery.FAILED

    html = op.get(LIST_URL).content.decode()
    assert "В очереди уведомлений: 2, из них с ошибкой: 1" in re.sub(r"<[^>]+>", "", html)
    queued_url, failed_url = re.findall(r'<a href="([^"]+)">(?:В очереди|с ошибкой)', html)
    queued = op.get(queued_url.replace("&amp;", "&"))
    assert {n.pk for n in queued.context["cl"].result_list} == {retrying.pk, given_up.pk}
    failed = op.get(failed_url.replace("&amp;", "&"))
    assert [n.pk for n in failed.context["cl"].result_list] == [given_up.pk]


# The request page


def test_request_page_shows_the_data_read_only(op, ticket):
    response = op.get(change_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    for field in ["organization_name", "login", "phone", "email", "description", "status"]:
        assert f'name="{field}"' not in html, field
    assert "ГБОУ «Школа № 1234»" in html
    assert "sch771234" in html and "+79123456789" in html and "director@school1234.ru" in html


def test_request_page_previews_the_scan_and_links_the_download(op, ticket):
    attachment = ticket.attachments.get()
    html = op.get(change_url(ticket)).content.decode()
    preview_url = f"/admin/helpdesk/ticket/attachment/{attachment.pk}/preview/"
    download_url = f"/admin/helpdesk/ticket/attachment/{attachment.pk}/download/"
    assert re.search(rf'<img src="{re.escape(preview_url)}"', html)
    assert f'<a href="{download_url}">Скачать</a>' in html

    preview = op.get(preview_url)
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert preview.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_request_page_shows_the_history_of_status_changes(op, operator, ticket):
    op.post(action_url(ticket, "take"))
    html = op.get(change_url(ticket)).content.decode()
    assert "Заявка подана" in html
    assert "Исполнитель: operator" in html
    assert "В работе" in html


def test_request_page_shows_the_notifications(op, ticket):
    html = op.get(change_url(ticket)).content.decode()
    assert "Заявка зарегистрирована" in html  # the kind of the confirmation email
    assert "Отправлено" in html  # its delivery state


def test_request_page_warns_of_another_open_request_for_the_same_login(op, ticket, file_ticket):
    other = file_ticket()
    html = op.get(change_url(ticket)).content.decode()
    assert "есть другие открытые заявки" in html
    assert f"№ {other.number}" in html


def test_no_warning_when_the_other_requests_are_closed_or_for_another_login(
    op, ticket, file_ticket, operator
):
    closed = file_ticket()
    services.ticket_reject(ticket=closed, by=operator, reason="Дубликат")
    file_ticket(**COORDINATOR_DATA)
    html = op.get(change_url(ticket)).content.decode()
    assert "есть другие открытые заявки" not in html


# Attachments


def test_operator_downloads_the_file(op, ticket):
    attachment = ticket.attachments.get()
    response = op.get(f"/admin/helpdesk/ticket/attachment/{attachment.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="scan.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("who", ["anonymous", "school", "staff_without_perms"])
@pytest.mark.parametrize("view", ["download", "preview"])
def test_nobody_but_operators_reaches_attachments(request, ticket, who, view):
    client = Client() if who == "anonymous" else login_client(request.getfixturevalue(who))
    attachment = ticket.attachments.get()
    attachment.render_preview()  # the preview exists: what refuses is the permission
    assert attachment.preview
    response = client.get(f"/admin/helpdesk/ticket/attachment/{attachment.pk}/{view}/")
    assert response.status_code == 404


# Actions


def test_take_puts_the_request_in_progress_with_the_operator_as_assignee(op, operator, ticket):
    response = op.post(action_url(ticket, "take"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(ticket)
    assert f"Заявка № {ticket.number} взята в работу." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.assignee == operator


def test_issue_password_sends_a_working_password_by_sms(
    op, school, ticket, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(action_url(ticket, "issue-password"), follow=True)
    assert any("новый пароль отправляется по SMS" in m for m in messages_on(response))  # worker runs after
    ticket.refresh_from_db()
    assert ticket.status == Status.DONE

    assert len(locmem.outbox) == 1
    sms = locmem.outbox[0]
    assert sms.phone == "+79123456789"
    password = re.search(r"новый пароль: ([A-Za-z0-9]+)", sms.text).group(1)

    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == f"Заявка № {ticket.number} выполнена"
    assert password not in mailoutbox[0].body

    school_client = Client()
    login = school_client.post("/login/", {"username": "sch771234", "password": password})
    assert login.status_code == 302
    assert school_client.session["_auth_user_id"] == str(school.pk)
    old = Client().post("/login/", {"username": "sch771234", "password": PASSWORD})
    assert old.status_code == 200  # the old password no longer works


def test_issue_password_for_a_login_without_account_shows_the_error(
    op, file_ticket, django_capture_on_commit_callbacks
):
    ticket = file_ticket(login="sch779999")
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(action_url(ticket, "issue-password"), follow=True)
    assert response.status_code == 200
    assert "Учётной записи с логином «sch779999» нет: пароль выдать нельзя." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert locmem.outbox == []


def test_issue_password_for_a_blocked_account_shows_the_error(
    op, school, ticket, django_capture_on_commit_callbacks
):
    school.is_active = False
    school.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(action_url(ticket, "issue-password"), follow=True)
    assert "Учётная запись «sch771234» заблокирована: пароль выдать нельзя." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert locmem.outbox == []


def test_a_closed_request_cannot_be_acted_on_again(op, operator, school, ticket, mailoutbox):
    services.ticket_reject(ticket=ticket, by=operator, reason="Дубликат")
    response = op.post(action_url(ticket, "issue-password"), follow=True)
    assert f"Заявка № {ticket.number} уже закрыта (отклонена)." in messages_on(response)
    assert "Выдать новый пароль" not in response.content.decode()  # no buttons on a closed request
    ticket.refresh_from_db()
    assert ticket.status == Status.REJECTED
    assert locmem.outbox == []


@pytest.mark.parametrize("action", ["take", "take-next"])
def test_get_on_an_action_url_is_not_allowed(op, ticket, action):
    url = "/admin/helpdesk/ticket/take-next/" if action == "take-next" else action_url(ticket, action)
    assert op.get(url).status_code == 405
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.assignee is None


def test_get_on_resend_is_not_allowed(op, ticket):
    notification = ticket.notifications.get()
    assert op.get(f"/admin/helpdesk/ticket/notification/{notification.pk}/resend/").status_code == 405


def test_reject_asks_for_the_reason(op, ticket):
    response = op.get(action_url(ticket, "reject"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_reason">' in html
    assert 'name="reason"' in html


def test_reject_with_a_blank_reason_changes_nothing(op, ticket, mailoutbox):
    mailoutbox.clear()
    response = op.post(action_url(ticket, "reject"), {"reason": "   "})
    assert response.status_code == 200
    assert "Укажите причину отклонения" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.rejection_reason == ""
    assert mailoutbox == []


def test_reject_with_a_reason_emails_it_to_the_requester(
    op, operator, ticket, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()
    reason = "Скан письма без печати организации"
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(action_url(ticket, "reject"), {"reason": reason})
    assert response.status_code == 302 and response.url == LIST_URL  # no other request to go on to
    ticket.refresh_from_db()
    assert ticket.status == Status.REJECTED
    assert ticket.rejection_reason == reason
    assert ticket.assignee == operator
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["director@school1234.ru"]
    assert mail.subject == f"Заявка № {ticket.number} отклонена"
    assert reason in mail.body


def test_resend_puts_a_failed_notification_back_and_delivers_it(
    op, ticket, mailoutbox, django_capture_on_commit_callbacks
):
    notification = ticket.notifications.get()
    Notification.objects.filter(pk=notification.pk).update(
        status=Delivery.FAILED, last_error="SMTPConnectError: 421"
    )
    mailoutbox.clear()
    html = op.get(change_url(ticket)).content.decode()
    assert f'form="resend-{notification.pk}"' in html and "Отправить повторно" in html

    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(f"/admin/helpdesk/ticket/notification/{notification.pk}/resend/", follow=True)
    assert "Уведомление поставлено в очередь на повторную отправку." in messages_on(response)
    notification.refresh_from_db()
    assert notification.status == Delivery.SENT and notification.last_error == ""
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == f"Заявка № {ticket.number} зарегистрирована"


def test_resend_of_a_sent_notification_shows_an_error(
    op, ticket, mailoutbox, django_capture_on_commit_callbacks
):
    notification = ticket.notifications.get()
    assert notification.status == Delivery.SENT
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(f"/admin/helpdesk/ticket/notification/{notification.pk}/resend/", follow=True)
    assert "Повторно отправить можно только уведомление с ошибкой." in messages_on(response)
    notification.refresh_from_db()
    assert notification.status == Delivery.SENT
    assert mailoutbox == []


# Who may do what


@pytest.mark.parametrize(
    "action, data",
    [("take", {}), ("issue-password", {}), ("reject", {"reason": "Не понравилось"})],
)
def test_staff_without_permissions_cannot_act_on_a_request(
    staff_without_perms, school, ticket, action, data, django_capture_on_commit_callbacks
):
    client = login_client(staff_without_perms)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action_url(ticket, action), data)
    assert response.status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.assignee is None and ticket.rejection_reason == ""
    assert locmem.outbox == []


def test_staff_without_permissions_cannot_resend(staff_without_perms, ticket, mailoutbox):
    notification = ticket.notifications.get()
    Notification.objects.filter(pk=notification.pk).update(status=Delivery.FAILED)
    response = login_client(staff_without_perms).post(
        f"/admin/helpdesk/ticket/notification/{notification.pk}/resend/"
    )
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.status == Delivery.FAILED


def test_staff_without_permissions_cannot_see_a_request_through_the_reject_form(staff_without_perms, ticket):
    client = login_client(staff_without_perms)
    assert client.get(change_url(ticket)).status_code == 403  # the ordinary page is closed to them
    for response in [
        client.get(action_url(ticket, "reject")),
        client.post(action_url(ticket, "reject"), {"reason": ""}),
    ]:
        html = response.content.decode()
        assert response.status_code == 404, response.status_code
        assert "sch771234" not in html and "Школа № 1234" not in html


def test_operators_cannot_add_requests(op):
    assert op.get("/admin/helpdesk/ticket/add/").status_code == 403
    assert "/admin/helpdesk/ticket/add/" not in op.get(LIST_URL).content.decode()


def test_operators_cannot_delete_requests(op, ticket):
    delete_url = f"/admin/helpdesk/ticket/{ticket.pk}/delete/"
    assert delete_url not in op.get(change_url(ticket)).content.decode()
    assert op.get(delete_url).status_code == 403
    assert op.post(delete_url, {"post": "yes"}).status_code == 403
    assert "delete_selected" not in op.get(LIST_URL).content.decode()
    response = op.post(
        LIST_URL, {"action": "delete_selected", "_selected_action": [ticket.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_the_group_lets_operators_view_and_change_but_not_add_or_delete(operator):
    perms = {p for p in operator.get_all_permissions() if p.startswith("helpdesk.")}
    assert {"helpdesk.view_ticket", "helpdesk.change_ticket"} <= perms
    assert not {"helpdesk.add_ticket", "helpdesk.delete_ticket"} & perms
    assert not operator.is_superuser


# Demo data


def test_seed_demo_operator_logs_in_to_the_admin_and_opens_the_list(settings, ticket):
    settings.DEBUG = True  # pytest-django turns it off; seed_demo runs only in development
    call_command("seed_demo")
    demo_operator = User.objects.get(username=OPERATOR_LOGIN)
    assert demo_operator.groups.filter(name=OPERATORS_GROUP).exists()
    assert demo_operator.is_staff and not demo_operator.is_superuser

    client = Client()
    response = client.post("/login/", {"username": OPERATOR_LOGIN, "password": OPERATOR_PASSWORD})
    assert response.status_code == 302 and response.url == "/admin/"
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert ticket.number in response.content.decode()


def test_notification_kinds_sent_for_a_done_request(op, school, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        op.post(action_url(ticket, "issue-password"))
    kinds = set(ticket.notifications.values_list("kind", "status"))
    assert kinds == {
        (Kind.RECEIVED, Delivery.SENT),
        (Kind.PASSWORD, Delivery.SENT),
        (Kind.DONE, Delivery.SENT),
    }
    html = op.get(change_url(ticket)).content.decode()
    assert "Новый пароль (SMS)" in html and "Заявка выполнена" in html


@pytest.mark.parametrize("object_id", ["abc", "999999"])
def test_request_page_for_an_unknown_or_malformed_id_says_it_does_not_exist(op, ticket, object_id):
    response = op.get(f"/admin/helpdesk/ticket/{object_id}/change/", follow=True)
    assert response.status_code == 200
    assert f"Заявка с ID “{object_id}“ не существует" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "new", "region__code__exact": "77"},
        {"q": "number"},
        {"q": "sch770000001"},
        {"q": "Школа"},
        {"q": "director@school1234.ru"},
    ],
)
def test_list_filters_and_searches_run_at_most_ten_queries(op, django_assert_max_num_queries, query):
    make_tickets(60)
    if query.get("q") == "number":
        query = {"q": Ticket.objects.first().number}
    op.get(LIST_URL, query)  # warm the caches that a first request fills
    with django_assert_max_num_queries(10):
        assert op.get(LIST_URL, query).status_code == 200


# A password SMS that failed comes back to the operator


def test_request_whose_password_sms_failed_is_marked_in_the_list_and_the_phone_can_be_corrected(
    op, school, ticket, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.helpdesk.test_outbox.DeadNumberBackend"
    with django_capture_on_commit_callbacks(execute=True):
        op.post(action_url(ticket, "issue-password"))
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS

    html = op.get(LIST_URL).content.decode()
    assert re.search(r'<td class="field-sms_failed"><strong [^>]*>SMS не ушло</strong></td>', html)
    assert ticket.number in op.get(LIST_URL, {"password_sms_failed__exact": "1"}).content.decode()
    page = op.get(change_url(ticket)).content.decode()
    assert "SMS с новым паролем не ушло" in page
    assert "SMS с паролем не отправлено на +79123456789: Номер не обслуживается" in page

    response = op.post(action_url(ticket, "phone"), {"new_phone": "+7 916 123-45-67"}, follow=True)
    assert f"Телефон в заявке № {ticket.number} исправлен." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.phone == "+79161234567"
    assert "Телефон изменён: +79123456789 → +79161234567" in response.content.decode()

    settings.SMS_BACKEND = "locmem"
    with django_capture_on_commit_callbacks(execute=True):
        op.post(action_url(ticket, "issue-password"))
    ticket.refresh_from_db()
    assert (ticket.status, ticket.password_sms_failed) == (Status.DONE, False)
    assert [m.phone for m in locmem.outbox] == ["+79161234567"]


def test_a_wrong_phone_is_refused_with_the_reason(op, ticket):
    response = op.post(action_url(ticket, "phone"), {"new_phone": "12345"}, follow=True)
    assert "Введите номер мобильного телефона в России" in " ".join(messages_on(response))
    ticket.refresh_from_db()
    assert ticket.phone == "+79123456789"


def test_staff_without_permissions_cannot_change_the_phone(staff_without_perms, ticket):
    client = login_client(staff_without_perms)
    response = client.post(action_url(ticket, "phone"), {"new_phone": "+79161234567"})
    assert response.status_code in (403, 404)
    ticket.refresh_from_db()
    assert ticket.phone == "+79123456789"


def test_issue_password_says_the_password_is_on_its_way_while_the_worker_has_not_sent_it(
    op, school, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = op.post(action_url(ticket, "issue-password"), follow=True)
    assert (
        f"Заявка № {ticket.number}: новый пароль отправляется по SMS. Заявка станет «Выполнена», когда SMS "
        "уйдёт; тогда же заявителю уйдёт ответ на e-mail."
    ) in messages_on(response)
    html = response.content.decode()
    assert "Пароль отправляется" in html
    assert "Выдать новый пароль" not in html, "no second password while the first is on its way"
