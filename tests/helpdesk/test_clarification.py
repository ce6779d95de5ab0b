"""The conversation (issue 16, items 1-3): «Запросить уточнение» with a private link, the requester's
answer through it, the close of requests left unanswered, the operator's reply by email, canned
replies, and the request page's timeline of messages and events."""

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk import links, services
from helpdesk.models import (
    Attachment,
    Direction,
    Kind,
    Notification,
    Purpose,
    ReplyTemplate,
    Status,
    Ticket,
    TicketEvent,
    TicketMessage,
)
from tests.helpdesk.conftest import PDF, TICKET_DATA, pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]

MSK = ZoneInfo("Europe/Moscow")
ASKED = "Скан письма не читается: пришлите, пожалуйста, разборчивый скан с печатью."


def change_url(ticket, step=""):
    return f"/admin/helpdesk/ticket/{ticket.pk}/{step + '/' if step else 'change/'}"


def link_in(mail):
    return re.search(r"http://testserver(/apply/reply/[^/\s]+/)", mail.body).group(1)


def files_on_disk(root):
    return sorted(p.name for p in Path(root).rglob("*") if p.is_file())


@pytest.fixture
def asked(file_ticket, operator, mailoutbox, settings, django_capture_on_commit_callbacks):
    """A request the operator asked to clarify; the email with the link is the last one sent."""
    settings.SITE_URL = "http://testserver"
    ticket = file_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_clarify(ticket=ticket, by=operator, text=ASKED)
    ticket.refresh_from_db()
    return ticket


def test_clarify_from_the_request_page_waits_and_mails_the_text_and_a_link(
    op, file_ticket, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://testserver"
    ticket = file_ticket()
    assert "Запросить уточнение" in op.get(change_url(ticket)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(change_url(ticket, "clarify"), {"text": ASKED})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING and ticket.waiting_since is not None
    mail = mailoutbox[-1]
    assert mail.to == [TICKET_DATA["email"]] and mail.reply_to == [settings.SUPPORT_EMAIL]
    assert mail.subject == f"Заявка № {ticket.number}: нужно уточнение"
    assert ASKED in mail.body and link_in(mail)
    assert "в течение 5 рабочих дней" in mail.body and "/apply/status/" in mail.body  # the footer
    # Nothing the requester typed: the address is nobody's verified one.
    for typed in ("organization_name", "person_name", "head_name"):
        assert TICKET_DATA[typed] not in mail.body
    notification = Notification.objects.get(kind=Kind.CLARIFICATION)
    assert notification.message.body == ASKED and notification.message.direction == Direction.OUT
    # Out of the queue while it waits.
    assert ticket not in op.get("/admin/helpdesk/ticket/").context["cl"].result_list


def test_clarify_without_text_is_refused(op, file_ticket):
    ticket = file_ticket()
    response = op.post(change_url(ticket, "clarify"), {"text": "  "}, follow=True)
    assert "Напишите, что нужно уточнить" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and not Notification.objects.filter(kind=Kind.CLARIFICATION).exists()


def test_the_link_shows_what_was_asked_and_takes_files_and_a_comment(client, asked, mailoutbox, op):
    url = link_in(mailoutbox[-1])
    page = client.get(url)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "same-origin"  # the link goes to no other site in a Referer
    html = page.content.decode()
    assert ASKED in html and asked.number in html
    assert TICKET_DATA["person_name"] not in html and TICKET_DATA["phone"] not in html
    response = client.post(url, {"comment": "Прилагаю скан с печатью", "attachments": [pdf("clear.pdf")]})
    assert response.status_code == 302
    assert "Ответ принят" in client.get(response["Location"]).content.decode()
    asked.refresh_from_db()
    assert asked.status == Status.IN_PROGRESS and asked.answered  # back with its operator
    message = TicketMessage.objects.get(ticket=asked, direction=Direction.IN)
    assert message.body == "Прилагаю скан с печатью"
    assert [a.original_name for a in message.attachments.all()] == ["clear.pdf"]
    # The operator sees it: marked in the list, and in the timeline after the question.
    assert "ответ получен" in op.get("/admin/helpdesk/ticket/").content.decode()
    page = op.get(change_url(asked)).content.decode()
    thread = page[page.index('data-testid="thread"') :]
    assert thread.index(ASKED) < thread.index("Прилагаю скан с печатью") < thread.index("clear.pdf")
    assert "Заявитель ответил по ссылке из письма (файлов: 1)" in thread


def test_the_answer_pauses_the_deadline(client, asked, mailoutbox):
    url = link_in(mailoutbox[-1])
    due = asked.due_at
    Ticket.objects.filter(pk=asked.pk).update(waiting_since=asked.waiting_since - timedelta(days=7))
    client.post(url, {"comment": "Вот"})
    asked.refresh_from_db()
    # A week of waiting holds at least four working days, whatever the week: none counts.
    assert asked.due_at - due >= timedelta(days=4)


def test_a_forged_link_gets_a_clear_page_and_stores_nothing(client, asked, media_root):
    token = links.reply_token(asked)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other = signing.dumps({"t": asked.pk}, salt="something-else")  # a signature for another purpose
    for token in (forged, other, "nonsense"):
        response = client.post(f"/apply/reply/{token}/", {"comment": "x", "attachments": [pdf()]})
        assert response.status_code == 400
        assert "Ссылка недействительна" in response.content.decode()
    assert not TicketMessage.objects.filter(direction=Direction.IN).exists()
    assert Attachment.objects.count() == 1  # the scan filed with the request, no more


def test_an_expired_link_gets_a_clear_page(client, asked, mailoutbox, settings):
    url = link_in(mailoutbox[-1])
    with time_machine.travel(timezone.now() + timedelta(days=settings.HELPDESK_REPLY_LINK_DAYS, hours=1)):
        response = client.post(url, {"comment": "Поздно"})
    assert response.status_code == 400
    assert "Срок действия ссылки истёк" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == Status.WAITING and not asked.messages.filter(direction=Direction.IN).exists()


def test_a_link_reused_while_open_adds_more_but_refuses_once_closed(client, asked, mailoutbox, operator):
    url = link_in(mailoutbox[-1])
    client.post(url, {"comment": "Первый ответ"})
    client.post(url, {"comment": "Забыл файл", "attachments": [pdf("second.pdf")]})
    assert asked.messages.filter(direction=Direction.IN).count() == 2
    services.ticket_reject(ticket=asked, by=operator, reason="Печать не та")
    response = client.post(url, {"comment": "Ещё", "attachments": [pdf("third.pdf")]})
    assert response.status_code == 410
    assert "уже закрыта (отклонена): ответ по ней не принимается" in response.content.decode()
    assert asked.messages.filter(direction=Direction.IN).count() == 2
    assert not Attachment.objects.filter(original_name="third.pdf").exists()


def test_an_answer_of_41_mb_is_refused_and_nothing_is_stored(client, asked, mailoutbox, media_root):
    before = files_on_disk(media_root)
    big = pdf("big.pdf", PDF + b"\0" * (41 * 1024 * 1024 - len(PDF)))
    response = client.post(link_in(mailoutbox[-1]), {"comment": "Скан", "attachments": [big]})
    assert response.status_code == 400
    assert "не более 40 МБ в сумме" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == Status.WAITING and not asked.messages.filter(direction=Direction.IN).exists()
    assert files_on_disk(media_root) == before


def test_an_exe_renamed_pdf_is_refused_and_nothing_is_stored(client, asked, mailoutbox, media_root):
    before = files_on_disk(media_root)
    exe = SimpleUploadedFile("scan.pdf", b"MZ\x90\x00\x03" + b"\0" * 60 + b"PE\0\0" + b"\0" * 200)
    response = client.post(link_in(mailoutbox[-1]), {"attachments": [exe]})
    assert response.status_code == 400
    assert "содержимое не соответствует расширению .pdf" in response.content.decode()
    assert not asked.messages.filter(direction=Direction.IN).exists()
    assert files_on_disk(media_root) == before


def test_an_empty_answer_is_refused(client, asked, mailoutbox):
    response = client.post(link_in(mailoutbox[-1]), {"comment": " "})
    assert "Приложите файл или напишите комментарий" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == Status.WAITING


def wait_from(asked, moment):
    Ticket.objects.filter(pk=asked.pk).update(waiting_since=moment)


def test_unanswered_requests_close_after_five_working_days_with_an_email(
    asked, mailoutbox, django_capture_on_commit_callbacks
):
    # Asked on Monday 2 March 2026, 10:00. 7-8 March are a weekend, and 8 March, a holiday on a Sunday,
    # moves to Monday 9 March: the five working days end on Tuesday 10 March, 10:00.
    wait_from(asked, datetime(2026, 3, 2, 10, 0, tzinfo=MSK))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.unanswered_close(now=datetime(2026, 3, 10, 9, 59, tzinfo=MSK)) == 0
        assert services.unanswered_close(now=datetime(2026, 3, 10, 10, 0, tzinfo=MSK)) == 1
    asked.refresh_from_db()
    assert asked.status == Status.REJECTED and asked.closed_at is not None
    mail = mailoutbox[-1]
    assert mail.subject == f"Заявка № {asked.number} отклонена"
    assert "Нет ответа на запрос уточнения в течение 5 рабочих дней" in mail.body


def test_the_wait_skips_public_holidays(asked):
    # Asked on Wednesday 30 December 2026: 31 December (moved by decree) and 1-8 January are days off.
    wait_from(asked, datetime(2026, 12, 30, 12, 0, tzinfo=MSK))
    assert services.unanswered_close(now=datetime(2027, 1, 12, 12, 0, tzinfo=MSK)) == 0
    assert services.unanswered_close(now=datetime(2027, 1, 15, 12, 0, tzinfo=MSK)) == 1


def test_the_beat_task_closes_unanswered_requests(asked, settings):
    from helpdesk.tasks import close_unanswered

    assert settings.CELERY_BEAT_SCHEDULE["close-unanswered"]["task"] == "helpdesk.tasks.close_unanswered"
    wait_from(asked, timezone.now() - timedelta(days=30))
    assert close_unanswered.delay().get() == 1


def test_the_operator_may_still_decide_a_waiting_request(op, asked, locmem_sms):
    response = op.post(change_url(asked, "reject"), {"reason": "Заявитель позвонил и отозвал заявку"})
    assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.status == Status.REJECTED


def test_reply_by_email_joins_the_thread_and_keeps_the_status(
    op, file_ticket, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = file_ticket()
    assert "Ответить по e-mail" in op.get(change_url(ticket)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        op.post(change_url(ticket, "reply"), {"text": "Пароль выдаётся только по письму с печатью."})
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    mail = mailoutbox[-1]
    assert mail.subject == f"Заявка № {ticket.number}: ответ службы поддержки"
    assert "Пароль выдаётся только по письму с печатью." in mail.body
    page = op.get(change_url(ticket)).content.decode()
    assert "Пароль выдаётся только по письму с печатью." in page[page.index('data-testid="thread"') :]


def test_the_timeline_keeps_messages_and_events_in_order(op, asked, operator, mailoutbox, client):
    client.post(link_in(mailoutbox[-1]), {"comment": "Ответ заявителя"})
    services.ticket_reply(ticket=asked, by=operator, text="Спасибо, проверяем.")
    page = op.get(change_url(asked)).content.decode()
    thread = page[page.index('data-testid="thread"') :]
    order = [
        "Заявка подана",
        "Запрошено уточнение",
        ASKED,
        "Ответ заявителя",
        "Заявитель ответил по ссылке",
        "Спасибо, проверяем.",
    ]
    positions = [thread.index(text) for text in order]
    assert positions == sorted(positions)


@pytest.fixture
def canned(db):
    return ReplyTemplate.objects.create(
        title="Нечитаемый скан",
        purpose=Purpose.CLARIFICATION,
        text="По заявке № {номер} (логин {логин}, {организация}, {заявитель}) пришлите разборчивый скан.",
    )


def test_a_canned_reply_is_filled_in_and_may_be_edited_before_sending(
    op, file_ticket, canned, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = file_ticket()
    page = op.get(change_url(ticket, "clarify"), {"template": canned.pk}).content.decode()
    filled = (
        f"По заявке № {ticket.number} (логин sch771234, {TICKET_DATA['organization_name']}, "
        f"{TICKET_DATA['person_name']}) пришлите разборчивый скан."
    )
    assert filled in page.replace("&quot;", '"')
    assert "Нечитаемый скан" in page
    edited = filled + " И приложите печать."
    with django_capture_on_commit_callbacks(execute=True):
        op.post(change_url(ticket, "clarify"), {"text": edited})
    assert "И приложите печать." in mailoutbox[-1].body
    assert TicketMessage.objects.get(direction=Direction.OUT).body == edited


def test_a_canned_reply_prefers_the_directorys_name_of_the_organization(op, file_ticket, canned, school):
    ticket = file_ticket(login=school.username)
    page = op.get(change_url(ticket, "clarify"), {"template": canned.pk}).content.decode()
    from helpdesk.selectors import directory_name

    assert directory_name(school.username) in page


def test_canned_replies_are_kept_in_the_admin_and_refuse_unknown_placeholders(admin_client):
    response = admin_client.post(
        "/admin/helpdesk/replytemplate/add/",
        {"title": "Отказ", "purpose": "rejection", "text": "Заявка {нмоер} отклонена", "is_active": "on"},
    )
    assert "Неизвестные подстановки: {нмоер}" in response.content.decode()
    assert not ReplyTemplate.objects.exists()
    response = admin_client.post(
        "/admin/helpdesk/replytemplate/add/",
        {"title": "Отказ", "purpose": "rejection", "text": "Заявка № {номер} отклонена", "is_active": "on"},
    )
    assert response.status_code == 302 and ReplyTemplate.objects.get().title == "Отказ"


def test_operators_keep_canned_replies(op):
    page = op.get("/admin/helpdesk/replytemplate/add/")
    assert page.status_code == 200 and "{номер}" in page.content.decode()


def test_rejection_page_offers_the_rejection_templates_only(op, file_ticket, canned):
    ReplyTemplate.objects.create(title="Нет печати", purpose=Purpose.REJECTION, text="Нет печати.")
    page = op.get(change_url(file_ticket(), "reject")).content.decode()
    assert "Нет печати" in page and "Нечитаемый скан" not in page


def test_every_event_of_the_wait_is_recorded(asked, mailoutbox, client):
    client.post(link_in(mailoutbox[-1]), {"comment": "Ответ"})
    moves = list(TicketEvent.objects.filter(ticket=asked).values_list("from_status", "to_status"))
    assert (Status.NEW, Status.WAITING) in moves and (Status.WAITING, Status.IN_PROGRESS) in moves
