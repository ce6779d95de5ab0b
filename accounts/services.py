"""Writes to accounts that do more than save one row."""

from django.db import transaction

from . import tasks


def password_change(*, user, password):
    """Set the user's own password and tell the account's known address, once committed.

    The email carries no password and is queued with the account's id only.
    """
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        if user.email:
            # robust: an unreachable broker (or mail server, run eagerly) must not turn a password
            # that is already changed into an error page; the failure is logged.
            transaction.on_commit(lambda: tasks.password_changed_email.delay(user.pk), robust=True)
