"""All mail the helpdesk sends: one function per kind, each with text and HTML templates.

No email ever carries a password: it goes by SMS only. Nobody has verified the address a request
names, so mail quotes nothing a stranger typed (organization, names, description), only what the form
checked the shape of: the number, the login and the phone. The rejection reason, a clarification and a
reply are quoted: an operator wrote them.

Every email links to the status page (the number filled in), to /apply/ and to the login page, on
SITE_URL; nobody reads the sender's mailbox, so replies go (Reply-To) to SUPPORT_EMAIL.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from . import normalize, wording
from .models import Kind


def _send(template, subject, ticket, **extra):
    context = {
        **extra,
        **wording.desk_context(),
        "ticket": ticket,
        "phone": normalize.phone_display(ticket.phone),
        "must_change": settings.ISSUED_PASSWORD_MUST_CHANGE,
        "status_url": wording.status_url(ticket.number),
        "apply_url": wording.absolute(reverse("helpdesk:apply")),
        "login_url": wording.absolute(reverse("login")),
    }
    text = render_to_string(f"helpdesk/emails/{template}.txt", context)
    html = render_to_string(f"helpdesk/emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [ticket.email], reply_to=[settings.SUPPORT_EMAIL]
    )
    message.attach_alternative(html, "text/html")
    message.send()


def ticket_received(ticket):
    _send("ticket_received", f"Заявка № {ticket.number} зарегистрирована", ticket)


def ticket_done(ticket):
    _send("ticket_done", f"Заявка № {ticket.number} выполнена", ticket)


def ticket_rejected(ticket):
    _send("ticket_rejected", f"Заявка № {ticket.number} отклонена", ticket)


def ticket_clarification(ticket, message):
    """«Запросить уточнение»: the operator's text (the desk's own words) and the private link."""
    from .links import reply_url

    _send(
        "ticket_clarification",
        f"Заявка № {ticket.number}: нужно уточнение",
        ticket,
        message=message,
        reply_url=reply_url(ticket),
        link_days=settings.HELPDESK_REPLY_LINK_DAYS,
    )


def ticket_reply(ticket, message):
    _send("ticket_reply", f"Заявка № {ticket.number}: ответ службы поддержки", ticket, message=message)


def send_for(kind, ticket, message=None):
    if kind == Kind.CLARIFICATION:
        return ticket_clarification(ticket, message)
    if kind == Kind.REPLY:
        return ticket_reply(ticket, message)
    {Kind.RECEIVED: ticket_received, Kind.DONE: ticket_done, Kind.REJECTED: ticket_rejected}[kind](ticket)
