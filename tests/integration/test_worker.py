"""The whole way of a request through the real parts: the web, PostgreSQL, Redis, a Celery worker,
an SMTP server and the SMSC gateway on loopback."""

import pytest
from django.test import Client

from accounts.models import User
from helpdesk.models import Delivery, Notification, Ticket
from tests.helpdesk.conftest import pdf
from tests.integration.conftest import PASSWORD_IN_SMS, make_operator, text_of, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_request_to_new_password_through_a_real_worker(real_parts, valid_data):
    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    school = User.objects.create_user("sch771234", password="old-password-1")
    worker.start()

    public = Client()
    response = public.post("/apply/", {**valid_data, "attachments": [pdf()]})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert mailbox.wait_for(1), "the confirmation email did not arrive"
    assert mailbox.messages[0]["Subject"] and ticket.number in text_of(mailbox.messages[0])

    _, staff = make_operator()
    response = staff.post(f"/admin/helpdesk/ticket/{ticket.pk}/issue-password/")
    assert response.status_code == 302
    assert smsc.wait_for(1, timeout=60), "the SMS did not reach the gateway"
    assert mailbox.wait_for(2), "the «done» email did not arrive"
    # The password is committed just after the gateway took the SMS.
    assert wait_until(lambda: not Notification.objects.exclude(status=Delivery.SENT).exists(), 30)

    sms = smsc.messages[0]
    assert sms["phones"] == "+79123456789"
    password = PASSWORD_IN_SMS.search(sms["mes"] + " ").group(1)
    done = text_of(mailbox.messages[1])
    assert "выполнена" in done and "по SMS" in done and password not in done

    school.refresh_from_db()
    assert school.check_password(password) and not school.check_password("old-password-1")
    response = public.post("/login/", {"username": "sch771234", "password": password})
    assert response.status_code == 302
    assert public.get("/cabinet/").url == "/password/"


def test_clarification_loop_through_a_real_worker(real_parts, valid_data):
    """«Запросить уточнение» → the email with its private link, sent by the worker over SMTP → the
    requester adds a clear scan through that link → the request is back in the queue → the password."""
    import re

    worker, mailbox, smsc = real_parts.worker, real_parts.mailbox, real_parts.smsc
    User.objects.create_user("sch771234", password="old-password-1")
    worker.start()
    public = Client()
    assert public.post("/apply/", {**valid_data, "attachments": [pdf()]}).status_code == 302
    ticket = Ticket.objects.get()
    assert mailbox.wait_for(1), "the confirmation email did not arrive"

    _, staff = make_operator()
    asked = "Скан без печати. Пришлите, пожалуйста, скан письма с печатью организации."
    response = staff.post(f"/admin/helpdesk/ticket/{ticket.pk}/clarify/", {"text": asked})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert mailbox.wait_for(2), "the clarification email did not arrive"
    letter = text_of(mailbox.messages[1])
    assert asked in letter
    link = re.search(r"https?://[^\s]+/apply/reply/[^\s/]+/", letter).group(0)
    path = "/" + link.split("/", 3)[3]

    requester = Client()
    answer = requester.post(path, {"comment": "Прилагаю скан с печатью.", "attachments": [pdf()]})
    assert answer.status_code == 302
    assert 'data-testid="reply-sent"' in requester.get(answer.url).content.decode()
    ticket.refresh_from_db()
    assert ticket.status in ("new", "in_progress") and ticket.answered
    assert ticket.attachments.count() == 2

    assert staff.post(f"/admin/helpdesk/ticket/{ticket.pk}/issue-password/").status_code == 302
    assert smsc.wait_for(1, timeout=60), "the SMS did not reach the gateway"
    assert wait_until(lambda: Ticket.objects.get().status == "done", 60)
