"""The operators' queue (issue 12, item 9): open requests oldest first, «Взять следующую», the next
request after an answer, the list's filters kept through every action, duplicate logins marked."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.utils import timezone

from accounts.models import User
from helpdesk import services
from helpdesk.models import Status, Ticket
from tests.conftest import PASSWORD, login_client, require_service
from tests.helpdesk.test_admin import (
    LIST_URL,
    OPERATORS_GROUP,
    action_url,
    change_url,
    make_tickets,
    messages_on,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]

NEXT_URL = "/admin/helpdesk/ticket/take-next/"


@pytest.fixture
def colleague(db):
    user = User.objects.create_user("colleague", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS_GROUP))
    return user


@pytest.fixture
def queue(file_ticket):
    """Three requests filed an hour apart, oldest first: two schools and a coordinator."""
    tickets = [
        file_ticket(login="sch771234"),
        file_ticket(login="sch770017"),
        file_ticket(login="sch775601"),
    ]
    now = timezone.now()
    for age, ticket in zip([3, 2, 1], tickets, strict=True):
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(hours=age))
    return tickets


def numbers_in(response):
    return [t.number for t in response.context["cl"].result_list]


def test_the_list_opens_on_open_requests_oldest_first(op, operator, queue, file_ticket):
    oldest, middle, newest = queue
    closed = file_ticket(login="sch500101")
    services.ticket_reject(ticket=closed, by=operator, reason="Дубликат")
    services.ticket_take(ticket=middle, by=operator)  # in progress: still in the queue

    response = op.get(LIST_URL)
    assert numbers_in(response) == [oldest.number, middle.number, newest.number]
    html = response.content.decode()
    assert "Открытые (очередь)" in html

    everything = op.get(LIST_URL, {"status__exact": "all"})  # the default filter, cleared
    assert closed.number in numbers_in(everything)
    assert numbers_in(everything)[0] == closed.number  # the whole table: newest first


def test_a_search_with_no_status_chosen_finds_closed_requests_too(op, operator, queue, file_ticket):
    closed = file_ticket(login="sch500101")
    services.ticket_reject(ticket=closed, by=operator, reason="Дубликат")

    response = op.get(LIST_URL, {"q": closed.number})
    assert numbers_in(response) == [closed.number]
    selected = re.search(r'<li class="selected">\s*<a[^>]*>([^<]+)</a>', response.content.decode())
    assert selected.group(1).strip() == "Все"
    # A status chosen with the search still narrows it.
    assert numbers_in(op.get(LIST_URL, {"q": closed.number, "status__exact": "new"})) == []


def test_a_request_whose_sms_failed_stays_in_the_queue(op, operator, queue):
    Ticket.objects.filter(pk=queue[0].pk).update(
        status=Status.IN_PROGRESS, password_sms_failed=True, assignee=operator
    )
    assert queue[0].number in numbers_in(op.get(LIST_URL))


def test_take_next_assigns_the_oldest_unassigned_request_and_opens_it(op, operator, colleague, queue):
    oldest, middle, newest = queue
    services.ticket_take(ticket=oldest, by=colleague)  # held by someone: skipped
    response = op.post(NEXT_URL, follow=True)
    assert response.redirect_chain[-1][0] == change_url(middle)
    assert f"Следующая заявка № {middle.number} взята в работу." in messages_on(response)
    middle.refresh_from_db()
    assert (middle.status, middle.assignee) == (Status.IN_PROGRESS, operator)
    oldest.refresh_from_db()
    assert oldest.assignee == colleague

    assert op.post(NEXT_URL).url == change_url(newest)
    response = op.post(NEXT_URL, follow=True)  # nothing left
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Открытых заявок без исполнителя нет." in messages_on(response)


def test_two_operators_taking_next_get_different_requests(operator, colleague, queue):
    first = services.ticket_take_next(by=operator)
    second = services.ticket_take_next(by=colleague)
    assert first.pk == queue[0].pk and second.pk == queue[1].pk


@pytest.mark.django_db(transaction=True)
def test_take_next_skips_a_request_another_transaction_holds(reference_data, operator, queue):
    """SKIP LOCKED: while another operator's transaction holds the oldest row, the next one is given
    at once, instead of waiting for that transaction and then taking the same request."""
    require_service(connection.vendor == "postgresql", "SKIP LOCKED needs PostgreSQL (DATABASE_URL)")
    oldest, middle, _ = queue
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM helpdesk_ticket WHERE id = %s FOR UPDATE", [oldest.pk])
        assert services.ticket_take_next(by=operator).pk == middle.pk
    finally:
        other.rollback()
        other.close()
    assert services.ticket_take_next(by=operator).pk == oldest.pk  # free again


def test_after_issuing_a_password_the_operator_lands_on_the_next_request(
    op, operator, school, queue, django_capture_on_commit_callbacks
):
    first, second, _ = queue
    op.post(NEXT_URL)
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(action_url(first, "issue-password"), follow=True)
    assert response.redirect_chain[-1][0] == change_url(second)
    said = messages_on(response)
    assert f"Заявка № {first.number}: новый пароль отправляется по SMS." in said[-2]  # the worker runs after
    assert f"Следующая заявка № {second.number} взята в работу." in said
    second.refresh_from_db()
    assert second.assignee == operator


def test_after_rejecting_the_operator_lands_on_the_next_request(op, operator, queue):
    first, second, _ = queue
    response = op.post(action_url(first, "reject"), {"reason": "Нет печати"})
    assert response.url == change_url(second)


def test_a_refused_action_stays_on_the_request_and_takes_nothing(op, queue):
    first, second, _ = queue
    response = op.post(action_url(first, "issue-password"), follow=True)  # sch771234 has no account here
    assert response.redirect_chain[-1][0] == change_url(first)
    assert "Учётной записи с логином «sch771234» нет: пароль выдать нельзя." in messages_on(response)
    second.refresh_from_db()
    assert second.assignee is None and second.status == Status.NEW


FILTERS = "region__code__exact=77&status__exact=new"


def kept_filters(url):
    return parse_qs(urlsplit(url).query).get("_changelist_filters", [""])[0]


def test_the_lists_filters_survive_every_action(
    op, operator, school, queue, django_capture_on_commit_callbacks
):
    first, second, third = queue
    # From the filtered list: «Взять следующую» carries the filters to the request ...
    listing = op.get(f"{LIST_URL}?{FILTERS}").content.decode()
    next_action = re.search(r'action="(/admin/helpdesk/ticket/take-next/[^"]*)"', listing).group(1)
    response = op.post(next_action.replace("&amp;", "&"))
    assert kept_filters(response.url) == FILTERS
    page = op.get(response.url).content.decode()
    # ... every form and link on the request page keeps them ...
    for action in ["take", "phone", "email", "reject", "issue-password"]:
        if action == "take":
            continue  # the operator holds it already: no «Взять в работу»
        kept = rf"/{first.pk}/{action}/\?_changelist_filters=region__code__exact%3D77"
        assert re.search(kept, page), action
    # ... a correction returns to the request with them ...
    response = op.post(
        f"{action_url(first, 'phone')}?_changelist_filters=region__code__exact%3D77%26status__exact%3Dnew",
        {"new_phone": "+79161234567"},
    )
    assert response.url.startswith(change_url(first)) and kept_filters(response.url) == FILTERS
    # ... and the answer goes on to the next request, still with them, then to the filtered list.
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(
            f"{action_url(first, 'issue-password')}?_changelist_filters="
            "region__code__exact%3D77%26status__exact%3Dnew"
        )
    assert response.url.startswith(change_url(second)) and kept_filters(response.url) == FILTERS
    Ticket.objects.filter(pk=third.pk).update(assignee=operator)
    response = op.post(
        f"{action_url(second, 'reject')}?_changelist_filters=region__code__exact%3D77%26status__exact%3Dnew",
        {"reason": "Нет печати"},
    )
    assert response.url == f"{LIST_URL}?{FILTERS}"


def test_duplicate_logins_are_marked_in_the_list(op, operator, file_ticket):
    first = file_ticket(login="sch771234")
    again = file_ticket(login="sch771234")
    alone = file_ticket(login="sch770017")
    done_twice = file_ticket(login="sch775601")
    services.ticket_reject(ticket=file_ticket(login="sch775601"), by=operator, reason="Дубликат")
    html = op.get(LIST_URL).content.decode()
    rows = {
        number: row
        for row in re.findall(r"<tr>.*?</tr>", html, re.DOTALL)
        for number in [first.number, again.number, alone.number, done_twice.number]
        if number in row
    }
    assert "Дубль логина" in rows[first.number] and "Дубль логина" in rows[again.number]
    assert "Дубль логина" not in rows[alone.number]
    assert "Дубль логина" not in rows[done_twice.number]  # the other one is closed


def test_questions_by_email_have_no_login_and_are_nobodys_duplicates(op, file_ticket):
    from helpdesk.models import TicketKind

    questions = [file_ticket() for _ in range(2)]
    # As email in files them (helpdesk/mailbox.py): a question names no login.
    Ticket.objects.filter(pk__in=[q.pk for q in questions]).update(login="", kind=TicketKind.QUESTION)
    for question in questions:
        question.refresh_from_db()
    html = op.get(LIST_URL).content.decode()
    assert all(question.number in html for question in questions)
    assert "Дубль логина" not in html
    assert not services.other_open_tickets(questions[0]).exists()


def test_the_queue_with_duplicates_runs_at_most_ten_queries(op, django_assert_max_num_queries):
    make_tickets(60)
    oldest = Ticket.objects.order_by("created_at").values("pk")[:10]  # on the queue's first page
    Ticket.objects.filter(pk__in=oldest).update(login="sch771234")
    op.get(LIST_URL)  # warm the caches that a first request fills
    with django_assert_max_num_queries(10):
        html = op.get(LIST_URL).content.decode()
    assert html.count("Дубль логина") == 10


def test_staff_without_permissions_cannot_take_next(queue):
    client = login_client(User.objects.create_user("intern", password=PASSWORD, is_staff=True))
    assert client.post(NEXT_URL).status_code == 404
    assert not Ticket.objects.filter(assignee__isnull=False).exists()
