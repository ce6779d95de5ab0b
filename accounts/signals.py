from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone


@receiver(user_logged_in)
def shorten_staff_session(sender, request, user, **kwargs):
    """A staff session ends STAFF_SESSION_SECONDS after login, however it was opened.

    A fixed end, not an idle timeout: staff can issue a password for any account, and a session
    left open on a desk must not outlive the working day. Covers /login/ and /admin/login/ alike.
    """
    if user.is_staff and request is not None and hasattr(request, "session"):
        request.session.set_expiry(timezone.now() + timedelta(seconds=settings.STAFF_SESSION_SECONDS))
