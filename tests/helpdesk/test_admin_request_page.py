"""What the operator sees and may do on a request (issue 12, items 10–12): the account and the
directory beside the form, the confirmation of a new password, no silent take-over, the buttons, the
files as an operator reads them, SMS errors in Russian, phone and e-mail corrected from the letter."""

import re
from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import School, User
from helpdesk import services
from helpdesk.models import Delivery, Kind, Notification, Status, TicketEvent
from helpdesk.sms import SmsError
from tests.conftest import PASSWORD, login_client
from tests.helpdesk.test_admin import OPERATORS_GROUP, action_url, change_url, messages_on

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_sms")]


@pytest.fixture
def ticket(file_ticket):
    return file_ticket()


@pytest.fixture
def colleague(db):
    user = User.objects.create_user("colleague", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS_GROUP))
    return user


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# The account and the directory


def test_page_shows_the_account_its_last_login_and_the_directory_name_beside_the_typed_one(
    op, school, file_ticket
):
    school.last_login = timezone.make_aware(datetime(2026, 3, 2, 9, 15))
    school.save()
    School.objects.filter(code="1234").update(name="ГБОУ Школа № 1234 им. Пушкина")
    ticket = file_ticket(organization_name="Школа 1234")
    text = text_of(op.get(change_url(ticket)).content.decode())
    assert "Учётная запись sch771234: есть, активна; последний вход: 02.03.2026 09:15" in text
    assert "Организация по справочнику: ГБОУ Школа № 1234 им. Пушкина" in text
    assert "Организация в заявке: Школа 1234" in text


def test_no_account_disables_the_password_button_and_says_why(op, file_ticket):
    ticket = file_ticket(login="sch779999")
    html = op.get(change_url(ticket)).content.decode()
    assert "Учётная запись sch779999: нет в системе" in text_of(html)
    assert "Организация по справочнику: в справочнике нет" in text_of(html)
    assert re.search(
        r'<button type="button" class="button default" disabled[^>]*>Выдать новый пароль</button>', html
    )
    assert "Учётной записи с логином «sch779999» нет: пароль выдать нельзя." in html
    assert action_url(ticket, "issue-password") not in html


def test_a_blocked_account_disables_the_password_button_and_says_why(op, school, ticket):
    school.is_active = False
    school.save()
    html = op.get(change_url(ticket)).content.decode()
    assert "Учётная запись sch771234: заблокирована" in text_of(html)
    assert "Учётная запись «sch771234» заблокирована: пароль выдать нельзя." in html
    assert action_url(ticket, "issue-password") not in html


# «Выдать новый пароль» asks first


def test_issue_password_asks_to_confirm_with_the_login_and_the_phone_and_changes_nothing(
    op, school, ticket, locmem_sms
):
    html = op.get(change_url(ticket)).content.decode()
    assert re.search(
        rf'<a class="button default" href="{re.escape(action_url(ticket, "issue-password"))}[^"]*">'
        r"Выдать новый пароль</a>",
        html,
    )
    confirm = op.get(action_url(ticket, "issue-password"))
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert '<dd data-testid="confirm-login">sch771234</dd>' in page
    assert '<dd data-testid="confirm-phone">+79123456789</dd>' in page
    assert re.search(r'<button type="submit" class="button default">Подтвердить</button>', page)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.assignee is None
    assert locmem_sms == []


def test_the_confirmation_of_a_login_without_account_offers_no_button(op, file_ticket):
    ticket = file_ticket(login="sch779999")
    page = op.get(action_url(ticket, "issue-password")).content.decode()
    assert "Учётной записи с логином «sch779999» нет: пароль выдать нельзя." in page
    assert "Подтвердить" not in page


def test_the_confirmation_of_a_closed_request_offers_no_button(op, operator, ticket):
    services.ticket_reject(ticket=ticket, by=operator, reason="Дубликат")
    page = op.get(action_url(ticket, "issue-password")).content.decode()
    assert f"Заявка № {ticket.number} — отклонена: новый пароль по ней не выдаётся." in page
    assert "Подтвердить" not in page


def test_staff_without_permissions_get_no_confirmation_page(ticket):
    client = login_client(User.objects.create_user("intern", password=PASSWORD, is_staff=True))
    assert client.get(action_url(ticket, "issue-password")).status_code == 404


# «Взять в работу» takes nothing silently


def test_take_refuses_a_request_another_operator_holds_and_changes_nothing(op, colleague, ticket):
    services.ticket_take(ticket=ticket, by=colleague)
    events = TicketEvent.objects.count()
    html = op.get(change_url(ticket)).content.decode()
    assert "Забрать у colleague" in html and ">Взять в работу<" not in html
    response = op.post(action_url(ticket, "take"), follow=True)
    assert (
        f"Заявку № {ticket.number} уже взял в работу colleague. Чтобы забрать её, нажмите «Забрать у …» "
        "на странице заявки."
    ) in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    assert TicketEvent.objects.count() == events


def test_take_over_is_a_deliberate_button_and_is_recorded(op, operator, colleague, ticket):
    services.ticket_take(ticket=ticket, by=colleague)
    response = op.post(action_url(ticket, "take"), {"take_over": "1"}, follow=True)
    assert f"Заявка № {ticket.number} взята в работу." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.assignee == operator
    assert "Исполнитель: operator (забрана у colleague)" in response.content.decode()


def test_taking_ones_own_request_again_records_nothing(op, operator, ticket):
    services.ticket_take(ticket=ticket, by=operator)
    events = TicketEvent.objects.count()
    html = op.get(change_url(ticket)).content.decode()
    assert ">Взять в работу<" not in html  # it is the operator's already
    op.post(action_url(ticket, "take"))
    assert TicketEvent.objects.count() == events


# The buttons, the files, the history


def test_the_main_action_stands_out_and_reject_is_secondary(op, school, ticket):
    html = op.get(change_url(ticket)).content.decode()
    assert re.search(r'<a class="button default" href="[^"]*">Выдать новый пароль</a>', html)
    assert re.search(r'<a class="button ticket-secondary" href="[^"]*">Отклонить</a>', html)
    assert re.search(r'<button type="submit" class="button ticket-secondary">Взять в работу</button>', html)


def test_no_empty_history_link(op, ticket):
    html = op.get(change_url(ticket)).content.decode()
    assert f"/admin/helpdesk/ticket/{ticket.pk}/history/" not in html


def test_files_show_a_readable_size_and_kind_and_the_preview_opens_in_a_new_tab(op, file_ticket):
    ticket = file_ticket(content=b"%PDF-1.4\n" + b"0" * 150_000)
    html = op.get(change_url(ticket)).content.decode()
    assert re.search(r'<td class="field-size_shown">\s*<p>146,5\xa0КБ</p>', html)
    assert re.search(r'<td class="field-kind">\s*<p>PDF</p>', html)
    assert "application/pdf" not in html and "150009" not in html
    # The broken PDF has no preview; a real one links its picture, in a new tab, as a «просмотр».
    ok = file_ticket()
    html = op.get(change_url(ok)).content.decode()
    preview = f"/admin/helpdesk/ticket/attachment/{ok.attachments.get().pk}/preview/"
    assert re.search(
        rf'<a href="{re.escape(preview)}" target="_blank" rel="noopener" class="ticket-preview">', html
    )
    assert "Открыть в новой вкладке" in html


# SMS errors in Russian


def test_sms_errors_are_shown_in_russian(op, ticket):
    Notification.objects.create(
        ticket=ticket,
        channel="sms",
        kind=Kind.PASSWORD,
        recipient=ticket.phone,
        status=Delivery.FAILED,
        last_error="SmsError: SMSC error 8: message cannot be delivered to this number",
    )
    html = op.get(change_url(ticket)).content.decode()
    assert "ошибка SMSC 8: сообщение не может быть доставлено на этот номер" in html
    assert "message cannot be delivered" not in html


class InvalidNumberBackend:
    def send(self, message):
        raise SmsError("SMSC error 7: invalid number format", permanent=True)


def test_a_failed_password_sms_is_explained_in_russian_in_the_history(
    op, school, ticket, settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "tests.helpdesk.test_admin_request_page.InvalidNumberBackend"
    with django_capture_on_commit_callbacks(execute=True):
        op.post(action_url(ticket, "issue-password"))
    html = op.get(change_url(ticket)).content.decode()
    assert (
        "SMS с паролем не отправлено на +79123456789: ошибка SMSC 7: неверный формат номера телефона" in html
    )
    assert "invalid number format" not in html


# Corrections from the letter, on any open request


def test_the_phone_and_the_email_can_be_corrected_on_a_new_request(op, ticket, mailoutbox, operator):
    html = op.get(change_url(ticket)).content.decode()
    assert "Исправить телефон" in html and "Исправить e-mail" in html

    response = op.post(
        action_url(ticket, "email"), {"new_email": " Director@School1234.ru.example "}, follow=True
    )
    assert f"E-mail в заявке № {ticket.number} исправлен." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.email == "Director@School1234.ru.example"
    assert (
        "E-mail изменён: director@school1234.ru → Director@School1234.ru.example" in response.content.decode()
    )
    event = ticket.events.last()
    assert event.actor == operator and event.to_status == Status.NEW

    mailoutbox.clear()
    services.ticket_reject(ticket=ticket, by=operator, reason="Нет печати")
    # The answer goes to the corrected address (queued after commit: run here by hand).
    assert Notification.objects.filter(ticket=ticket, kind=Kind.REJECTED).get().recipient == ticket.email


@pytest.mark.parametrize("typed", ["", "не адрес", "director@"])
def test_a_wrong_email_is_refused_and_nothing_changes(op, ticket, typed):
    events = TicketEvent.objects.count()
    response = op.post(action_url(ticket, "email"), {"new_email": typed}, follow=True)
    assert "Введите правильный адрес электронной почты." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.email == "director@school1234.ru"
    assert TicketEvent.objects.count() == events


def test_the_same_email_again_is_refused(op, ticket):
    response = op.post(action_url(ticket, "email"), {"new_email": "director@school1234.ru"}, follow=True)
    assert "E-mail в заявке уже director@school1234.ru." in messages_on(response)


def test_a_closed_request_cannot_be_corrected(op, operator, ticket):
    services.ticket_reject(ticket=ticket, by=operator, reason="Дубликат")
    response = op.post(action_url(ticket, "email"), {"new_email": "new@school.ru"}, follow=True)
    assert f"Заявка № {ticket.number} уже закрыта (отклонена)." in messages_on(response)
    ticket.refresh_from_db()
    assert ticket.email == "director@school1234.ru"


def test_staff_without_permissions_cannot_change_the_email(ticket):
    client = login_client(User.objects.create_user("intern", password=PASSWORD, is_staff=True))
    assert client.post(action_url(ticket, "email"), {"new_email": "x@y.ru"}).status_code == 404
    ticket.refresh_from_db()
    assert ticket.email == "director@school1234.ru"
