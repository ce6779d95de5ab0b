from celery import shared_task

from . import login_budget


@shared_task
def purge_login_failures():
    """Delete the failed-login counters whose window has passed."""
    return login_budget.purge()
