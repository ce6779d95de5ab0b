"""The conversation in a real browser (issue 16, «Done when»): the operator asks for a clear scan with
a canned reply, the requester adds it through the email's private link, the operator issues the
password."""

import re

from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from helpdesk import services
from helpdesk.models import Purpose, ReplyTemplate, Status, Ticket
from helpdesk.sms import locmem
from tests.e2e.conftest import E2E, screenshot
from tests.e2e.test_journeys import operator_page, scan_files
from tests.helpdesk.conftest import TICKET_DATA

pytestmark = E2E


def test_clarification_then_a_clear_scan_through_the_link_then_the_password(
    new_page, make_account, tmp_path, settings, live_server
):
    settings.SITE_URL = live_server.url
    make_account("sch771234")
    pdf, jpeg = scan_files(tmp_path)
    blurred = SimpleUploadedFile("размыто.pdf", pdf.read_bytes(), content_type="application/pdf")
    ticket = services.ticket_submit(data=TICKET_DATA, files=[(blurred, "размыто.pdf", "application/pdf")])
    ReplyTemplate.objects.create(
        title="Нечитаемый скан",
        purpose=Purpose.CLARIFICATION,
        text="Скан письма по заявке № {номер} не читается. Пришлите, пожалуйста, разборчивый скан.",
    )

    # The operator asks, starting from the canned reply and adding a line of their own.
    staff = operator_page(new_page)
    staff.goto(f"/admin/helpdesk/ticket/{ticket.pk}/change/")
    staff.get_by_role("link", name="Запросить уточнение").click()
    staff.get_by_label("Шаблон ответа").select_option(label="Нечитаемый скан")
    staff.get_by_role("button", name="Подставить").click()
    text = staff.get_by_label(re.compile("Что нужно уточнить"))
    expect(text).to_have_value(re.compile(f"по заявке № {ticket.number} не читается"))
    text.fill(text.input_value() + " Печать должна быть видна.")
    staff.get_by_role("button", name="Запросить уточнение").click()
    expect(staff.get_by_text("уточнение запрошено, заявка ждёт ответа заявителя")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING

    # The requester opens the link from the email (no login) and adds a clear scan.
    letter = mail.outbox[-1]
    assert "Печать должна быть видна." in letter.body
    link = re.search(r"(http://\S+/apply/reply/\S+/)", letter.body).group(1)
    requester = new_page()
    requester.goto(link)
    expect(requester.get_by_test_id("reply-asked")).to_contain_text("Печать должна быть видна.")
    requester.get_by_label("Файлы").set_input_files(str(jpeg))
    requester.get_by_label("Комментарий").fill("Прилагаю разборчивый скан с печатью.")
    requester.get_by_role("button", name="Отправить ответ").click()
    expect(requester.get_by_test_id("reply-sent")).to_be_visible()
    screenshot(requester, "clarification-answered")

    # The operator sees the answer in the timeline and issues the password.
    staff.goto(f"/admin/helpdesk/ticket/{ticket.pk}/change/")
    expect(staff.get_by_test_id("answered")).to_be_visible()
    thread = staff.get_by_test_id("thread")
    expect(thread).to_contain_text("Прилагаю разборчивый скан с печатью.")
    expect(thread.get_by_role("link", name="печать.jpg")).to_be_visible()
    screenshot(staff, "clarification-thread")
    staff.get_by_role("link", name="Выдать новый пароль").click()
    staff.get_by_role("button", name="Подтвердить").click()
    expect(staff.get_by_text("Открытых заявок без исполнителя нет.")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).status == Status.DONE
    assert [sms.phone for sms in locmem.outbox] == [TICKET_DATA["phone"]]
