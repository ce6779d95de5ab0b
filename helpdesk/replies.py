"""Canned replies («Шаблоны ответов»): their placeholders, filled in on the operator's page.

Filled by plain replacement, never ``str.format``: the text is staff's and may hold any braces.
The organization is the directory's name for the login where the directory knows it (what the
requester typed is not checked); the operator sees, and may edit, every word before it is sent.
"""

import re

from . import selectors

PLACEHOLDERS = {
    "{номер}": "номер заявки",
    "{логин}": "логин",
    "{организация}": "организация (по справочнику, иначе — как в заявке)",
    "{заявитель}": "ФИО лица, для которого меняется пароль",
}
_PLACEHOLDER = re.compile(r"\{[^{}\s]{1,30}\}")


def unknown_placeholders(text):
    """The ``{…}`` in ``text`` that are no placeholder (a typo would be sent as it is)."""
    return sorted({found for found in _PLACEHOLDER.findall(text) if found not in PLACEHOLDERS})


def fill(text, ticket):
    values = {
        "{номер}": ticket.number,
        "{логин}": ticket.login,
        "{организация}": selectors.directory_name(ticket.login) or ticket.organization_name,
        "{заявитель}": ticket.person_name,
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
