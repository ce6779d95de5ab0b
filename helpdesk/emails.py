"""All mail the helpdesk sends: one function per kind, each with text and HTML templates.

No email ever carries a password: it goes by SMS only.
"""

import contextlib
import smtplib
import threading

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from .models import Kind

# An SMTP connection kept open per thread (a worker process runs one task at a time): connecting
# and greeting the server costs as much as sending a message.
_smtp = threading.local()


def _deliver(message):
    """Send through this thread's open SMTP connection; one the server has dropped is replaced once."""
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        message.send()
        return
    for attempt in (1, 2):
        connection = getattr(_smtp, "connection", None)
        if connection is None or connection.connection is None:
            connection = _smtp.connection = get_connection()
            connection.open()
        message.connection = connection
        try:
            message.send()
            return
        except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError):
            _smtp.connection = None
            with contextlib.suppress(Exception):
                connection.close()
            if attempt == 2:
                raise


def _send(template, subject, ticket):
    context = {"ticket": ticket, "must_change": settings.ISSUED_PASSWORD_MUST_CHANGE}
    text = render_to_string(f"helpdesk/emails/{template}.txt", context)
    html = render_to_string(f"helpdesk/emails/{template}.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [ticket.email])
    message.attach_alternative(html, "text/html")
    _deliver(message)


def ticket_received(ticket):
    _send("ticket_received", f"Заявка № {ticket.number} принята", ticket)


def ticket_done(ticket):
    _send("ticket_done", f"Заявка № {ticket.number} выполнена", ticket)


def ticket_rejected(ticket):
    _send("ticket_rejected", f"Заявка № {ticket.number} отклонена", ticket)


def send_for(kind, ticket):
    {Kind.RECEIVED: ticket_received, Kind.DONE: ticket_done, Kind.REJECTED: ticket_rejected}[kind](ticket)
