"""The private link in a clarification email: the requester answers through it, without a login.

Signed with the site's secret (``django.core.signing``) under a salt of its own, so no other signed
value of the portal passes for it, and it carries one request's id only: it opens that request's
answer page and nothing else. It expires after HELPDESK_REPLY_LINK_DAYS; nothing is stored for it,
so it cannot be revoked one by one — whether it still works is the request's status
(``services.ticket_answer`` refuses a closed request).
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from . import wording

SALT = "helpdesk.clarification-answer"


class LinkError(Exception):
    """The link is forged, damaged or expired: the message says which, in Russian."""


def reply_token(ticket):
    return signing.dumps({"t": ticket.pk}, salt=SALT, compress=False)


def reply_url(ticket):
    return wording.absolute(reverse("helpdesk:reply", args=[reply_token(ticket)]))


def ticket_id_from(token):
    """The id of the request the link was made for, or LinkError."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.HELPDESK_REPLY_LINK_DAYS * 86400)
    except signing.SignatureExpired:
        raise LinkError(
            f"Срок действия ссылки истёк: она действует {settings.HELPDESK_REPLY_LINK_DAYS} дней. "
            f"Напишите на {settings.SUPPORT_EMAIL}, указав номер заявки, или подайте новую заявку."
        ) from None
    except signing.BadSignature:
        raise LinkError(
            "Ссылка недействительна: вероятно, она скопирована не полностью. Откройте её из письма "
            "целиком или скопируйте всю строку адреса."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        raise LinkError("Ссылка недействительна.")
    return data["t"]
