import smtplib

from celery import shared_task

from . import emails, login_budget
from .models import User


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def password_changed_email(user_id):
    """Tell the account's address that its password was changed (no password in it)."""
    user = User.objects.filter(pk=user_id).exclude(email="").first()
    if user is not None:
        emails.password_changed(user)


@shared_task
def purge_login_failures():
    """Delete the failed-login counters whose window has passed."""
    return login_budget.purge()
