"""Colours measured against WCAG 2.2: focus rings and field borders 3:1 (1.4.11), badge text 4.5:1."""

import re
from pathlib import Path

import pytest

from helpdesk.admin import STATUS_COLOURS

PORTAL_CSS = (Path(__file__).resolve().parents[1] / "static" / "css" / "portal.css").read_text()
PAGE = "#f4f6f9"  # body background
WHITE = "#ffffff"  # inside a field, and the admin's page
HEADER = "#1d4f91"  # the portal header


def luminance(colour):
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def rule(selector_start):
    """The declarations of the first rule whose selector list starts with ``selector_start``."""
    match = re.search(re.escape(selector_start) + r"[^{]*\{([^}]*)\}", PORTAL_CSS)
    assert match, selector_start
    return match.group(1)


def test_the_focus_ring_reaches_3_to_1_on_the_page_and_in_fields():
    ring = re.search(r"outline: 3px solid (#[0-9a-f]{6})", rule("a:focus-visible")).group(1)
    assert contrast(ring, PAGE) >= 3 and contrast(ring, WHITE) >= 3, ring


def test_the_focus_ring_in_the_header_reaches_3_to_1():
    ring = re.search(r"outline-color: (#[0-9a-f]{3,6})", rule(".portal-header a:focus-visible")).group(1)
    ring = "#ffffff" if ring == "#fff" else ring
    assert contrast(ring, HEADER) >= 3


def test_field_borders_reach_3_to_1():
    border = re.search(r"--bs-border-color: (#[0-9a-f]{6})", rule(".form-control, .form-select")).group(1)
    assert contrast(border, WHITE) >= 3 and contrast(border, PAGE) >= 3, border


@pytest.mark.parametrize("status", list(STATUS_COLOURS))
def test_status_badges_reach_4_5_to_1(status):
    assert contrast(STATUS_COLOURS[status], WHITE) >= 4.5, status
