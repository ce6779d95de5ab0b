"""axe-core in the browser on the five pages people see most, at phone and desktop widths."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import E2E
from tests.e2e.test_journeys import file_request, log_in, open_request, operator_page

pytestmark = E2E

WIDTHS = [360, 1920]


def serious_violations(page):
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def tab_rows(page):
    """How many rows the cabinet's tabs take: their distinct tops."""
    return page.evaluate(
        "new Set([...document.querySelectorAll('.portal-tabs .nav-link')]"
        ".map(a => Math.round(a.getBoundingClientRect().top))).size"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_login_cabinet_form_and_success_pages_pass_axe(new_page, make_account, tmp_path, width):
    make_account("sch771234")
    page = new_page(width=width)
    page.goto("/login/")
    found = {"login": serious_violations(page)}
    log_in(page, "sch771234", PASSWORD)
    found["cabinet"] = serious_violations(page)
    assert no_horizontal_scroll(page)
    assert tab_rows(page) == 1
    page.goto("/apply/")
    found["apply"] = serious_violations(page)
    assert no_horizontal_scroll(page)
    file_request(page, tmp_path)
    found["success"] = serious_violations(page)
    assert {name: v for name, v in found.items() if v} == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_request_page_and_the_confirmation_pass_axe(new_page, make_account, tmp_path, width):
    make_account("sch771234")
    number = file_request(new_page(), tmp_path)
    staff = operator_page(new_page)
    staff.set_viewport_size({"width": width, "height": 900})
    open_request(staff, number)
    found = {"request": serious_violations(staff)}
    staff.get_by_role("link", name="Выдать новый пароль").click()
    expect(staff.get_by_role("button", name="Подтвердить")).to_be_visible()
    found["confirmation"] = serious_violations(staff)
    assert {name: v for name, v in found.items() if v} == {}


def test_keyboard_reaches_the_login_form_with_visible_focus(page, make_account):
    make_account("sch771234")
    page.goto("/login/")
    login = page.get_by_label("Логин")
    expect(login).to_be_focused()  # autofocus: the first thing to type is the login
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    skip = page.get_by_role("link", name="Перейти к содержимому")
    skip.focus()
    expect(skip).to_be_visible()  # hidden until a keyboard user reaches it
    login.focus()
    page.keyboard.type("sch771234")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Пароль")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/cabinet/")


FOCUSED = """() => {
    const e = document.activeElement, s = getComputedStyle(e);
    return {
        key: e.name || e.id || e.innerText.trim(),
        tag: e.tagName,
        ring: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none",
    };
}"""


def tab_through(page, presses=60):
    """Press Tab from the top of the page; what received the focus, in order, and whether it showed."""
    page.locator("body").focus()
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] == "BODY" or (seen and focused == seen[0]):
            break
        seen.append(focused)
    return seen


def test_keyboard_reaches_every_control_of_the_request_form_with_visible_focus(page):
    page.goto("/apply/")
    controls = page.eval_on_selector_all(
        "main form input:not([type=hidden]), main form select, main form textarea, main form button",
        "els => els.filter(e => !e.disabled && e.tabIndex >= 0 && e.getClientRects().length)"
        ".map(e => e.name || e.id || e.innerText.trim())",
    )
    assert len(controls) >= 12 and "website" not in controls  # the honeypot stays out of the way
    seen = tab_through(page)
    reached = [f["key"] for f in seen]
    assert [c for c in controls if c not in reached] == []
    assert [f["key"] for f in seen if not f["ring"]] == []


def test_keyboard_reaches_the_operators_actions_on_a_request(new_page, make_account, tmp_path):
    make_account("sch771234")
    number = file_request(new_page(), tmp_path)
    staff = operator_page(new_page)
    open_request(staff, number)
    reached = [f["key"] for f in tab_through(staff, presses=120)]
    for action in ["Взять в работу", "Выдать новый пароль", "Отклонить", "Скачать"]:
        assert action in reached, reached
    staff.get_by_role("link", name="Выдать новый пароль").focus()
    staff.keyboard.press("Enter")
    confirm = staff.get_by_role("button", name="Подтвердить")
    confirm.focus()
    staff.keyboard.press("Enter")
    expect(staff.get_by_text(f"Заявка № {number} выполнена")).to_be_visible()
