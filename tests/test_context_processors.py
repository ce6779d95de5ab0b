"""One support address across the site: SUPPORT_EMAIL, never an address written into a template."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_no_template_writes_an_address_of_its_own():
    for template in TEMPLATES.rglob("*.*"):
        found = re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", template.read_text(encoding="utf-8"))
        assert not found, (template, found)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/apply/", "/apply/status/"])
def test_every_page_names_the_support_address_from_the_setting(client, settings, url):
    settings.SUPPORT_EMAIL = "help@example.ru"
    html = client.get(url).content.decode()
    assert '<a href="mailto:help@example.ru">help@example.ru</a>' in html
    assert "helpfisoko@" not in html
