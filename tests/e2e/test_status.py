"""The status page in a real browser: a number typed as people type it, and the link from the email."""

import re

from playwright.sync_api import expect

from helpdesk import emails
from helpdesk.models import Kind, Ticket
from tests.e2e.conftest import E2E
from tests.helpdesk.conftest import TICKET_DATA

pytestmark = E2E


def filed_ticket():
    return Ticket.objects.create(**TICKET_DATA, number="ABCE-HK23", role="school")


def test_a_number_typed_in_the_russian_layout_finds_the_request(page):
    filed_ticket()
    page.goto("/apply/status/")
    # The keyboard left in the Russian layout: Cyrillic look-alikes, lower case, a space for the dash.
    page.get_by_label("Номер заявки").press_sequentially("авсе нк23")
    page.get_by_label("E-mail, указанный в заявке").fill("director@school1234.ru")
    page.get_by_label("E-mail, указанный в заявке").press("Enter")
    expect(page.get_by_test_id("ticket-status")).to_have_text("Новая")
    expect(page.get_by_text("Заявка № ABCE-HK23 зарегистрирована")).to_be_visible()
    expect(page.get_by_test_id("status-explanation")).to_contain_text("ждёт проверки")


def test_the_link_in_the_email_opens_the_status_page_with_the_number_filled_in(
    page, live_server, settings, mailoutbox
):
    settings.SITE_URL = live_server.url
    emails.send_for(Kind.RECEIVED, filed_ticket())
    link = re.search(rf"{re.escape(live_server.url)}/apply/status/\?number=\S+", mailoutbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_label("Номер заявки")).to_have_value("ABCE-HK23")
    page.get_by_label("E-mail, указанный в заявке").fill("director@school1234.ru")
    page.get_by_role("button", name="Проверить").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("Новая")
