"""Mail about an account. No email ever carries a password."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone


def password_changed(user):
    context = {
        "login": user.get_username(),
        "when": timezone.localtime(),
        "support_email": settings.SUPPORT_EMAIL,
        # Mail has no request to build links from: SITE_URL is the portal's public address.
        "apply_url": settings.SITE_URL + reverse("helpdesk:apply"),
        "login_url": settings.SITE_URL + reverse("login"),
    }
    text = render_to_string("accounts/emails/password_changed.txt", context)
    html = render_to_string("accounts/emails/password_changed.html", context)
    subject = f"ФИС ОКО: пароль учётной записи {user.get_username()} изменён"
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [user.email], reply_to=[settings.SUPPORT_EMAIL]
    )
    message.attach_alternative(html, "text/html")
    message.send()
