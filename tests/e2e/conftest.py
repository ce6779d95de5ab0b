"""Browser tests: Playwright driving the machine's Chromium against pytest-django's live server.

Without Chromium they skip with one reason, unless REQUIRE_BROWSER=1 (CI), which fails them.
"""

import os
import shutil
from pathlib import Path

import pytest

from helpdesk.sms import locmem

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots")
)

# Every e2e module sets this: the live server needs committed data.
E2E = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the browser tests, closed when they end.

    Playwright's sync API runs an event loop in this thread, so Django would refuse the ORM calls
    the tests and the live server make; the flag is set only while the browser is open, so that it
    reaches no other test nor any process they start (`check --deploy` rejects it).
    """
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"Chromium not found at {CHROMIUM}: browser tests need Debian's chromium package"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser context (its own cookies) at the live server; closed after the test."""
    contexts = []

    def open_page(width=1280, height=900):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            locale="ru-RU",
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(autouse=True)
def _reference_data(reference_data):
    pass


@pytest.fixture(autouse=True)
def _e2e_settings(settings, tmp_path):
    settings.SMS_BACKEND = "locmem"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEBUG = False
    locmem.outbox.clear()
    from django.core.cache import cache

    cache.clear()


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sms_password():
    text = locmem.outbox[-1].text
    return text.split("новый пароль: ", 1)[1].split(".", 1)[0]
