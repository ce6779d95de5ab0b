"""Mail about an account. No email ever carries a password."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone


def password_changed(user):
    context = {"login": user.get_username(), "when": timezone.localtime()}
    text = render_to_string("accounts/emails/password_changed.txt", context)
    html = render_to_string("accounts/emails/password_changed.html", context)
    subject = f"ФИС ОКО: пароль учётной записи {user.get_username()} изменён"
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
    message.attach_alternative(html, "text/html")
    message.send()
