"""Budgets against password spraying: failed logins counted per client address and per login.

django-axes locks one (login, address) pair after 5 failures. That leaves two ways round it: one
address trying a few passwords against each of some 42,000 predictable logins, and many addresses
trying one login. Both are counted here over a window (15 minutes from the window's first failure).
Past the free failures, each further attempt must wait 1, 2, 4 … seconds (up to a cap) after the last
failure. An attempt that comes too early is refused at once, its password unchecked and the failure
not counted, with 429, Retry-After and the seconds left: a web worker never sleeps for it. A delay
and not a lock, because schools share addresses (a region's ЕСПД egress, a provider's NAT): locking
the address would lock out every school behind it.

The counts are rows in the database (``LoginFailures``), not cache keys: the database is shared by
every web process and host, as Redis is, and unlike Redis it is needed for any login anyway, so the
budgets count whenever a login can succeed at all — Redis down, frozen, read-only or out of memory
included. The price is one indexed read per attempt and two small writes per failure, beside an
Argon2 hash that costs tens of milliseconds.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.dispatch import receiver
from django.utils import timezone

from .client import client_ip
from .models import LoginFailures

ADDRESS = "address"
LOGIN = "login"


@dataclass(frozen=True)
class Wait:
    scope: str  # ADDRESS or LOGIN: whose budget is spent
    seconds: int


def _limits():
    return {
        ADDRESS: settings.LOGIN_ADDRESS_FREE_FAILURES,
        LOGIN: settings.LOGIN_USERNAME_FREE_FAILURES,
    }


def _keys(address, username):
    return {f"{ADDRESS}:{address}": ADDRESS, f"{LOGIN}:{username}": LOGIN}


def delay(failures, free):
    """Seconds an attempt must wait after the last of ``failures``: 0, then 1, 2, 4 … up to the cap."""
    if failures < free:
        return 0
    return min(settings.LOGIN_MAX_DELAY_SECONDS, 2 ** min(failures - free, 30))


def wait_before_attempt(*, address, username, now=None):
    """The longer of the two waits still due before this attempt, or None."""
    now = now or timezone.now()
    window_start = now - settings.LOGIN_BUDGET_WINDOW
    keys = _keys(address, username)
    waits = []
    for row in LoginFailures.objects.filter(key__in=keys, started_at__gt=window_start):
        scope = keys[row.key]
        due = row.last_failure_at + timedelta(seconds=delay(row.failures, _limits()[scope]))
        if due > now:
            waits.append(Wait(scope, math.ceil((due - now).total_seconds())))
    return max(waits, key=lambda w: w.seconds, default=None)


def count_failure(*, address, username, now=None):
    """One failure more for the address and for the login; a counter past its window starts afresh."""
    now = now or timezone.now()
    for key in _keys(address, username):
        _count(key, now)


def _count(key, now):
    # One UPDATE, so that concurrent failures from several workers are all counted; a new key is
    # inserted, and an insert that loses the race to another worker's counts as an update.
    stale = Q(started_at__lte=now - settings.LOGIN_BUDGET_WINDOW)
    updated = LoginFailures.objects.filter(key=key).update(
        failures=Case(When(stale, then=Value(1)), default=F("failures") + 1),
        started_at=Case(When(stale, then=Value(now)), default=F("started_at")),
        last_failure_at=now,
    )
    if updated:
        return
    try:
        with transaction.atomic():
            LoginFailures.objects.create(key=key, failures=1, started_at=now, last_failure_at=now)
    except IntegrityError:
        _count(key, now)


def forget_login(username):
    """A successful login clears its login's count (not its address's: an attacker could log in to
    an account of its own to clear that)."""
    LoginFailures.objects.filter(key=f"{LOGIN}:{username}").delete()


def purge(now=None):
    """Delete the counters whose window has passed (beat, hourly)."""
    now = now or timezone.now()
    return LoginFailures.objects.filter(started_at__lte=now - settings.LOGIN_BUDGET_WINDOW).delete()[0]


class LoginBudgetBackend:
    """Refuses an attempt that must still wait, before any password is checked.

    Listed after django-axes' backend (a locked pair gets its lockout page) and before ModelBackend.
    A refusal raises PermissionDenied, which ends ``authenticate()``; it flags the request as django-axes
    flags its own lockouts, so that django-axes neither counts it as a failure of the pair (with
    AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off) and its middleware answers with
    ``accounts.views.locked_out``, which reads ``request.login_wait``.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return None
        address = client_ip(request)
        wait = wait_before_attempt(address=address, username=username)
        if wait:
            request.login_wait = wait
            request.axes_locked_out = True
            raise PermissionDenied(f"login budget spent: wait {wait.seconds} s")
        # The password will be checked: a failure from here on counts (see on_login_failed).
        request.login_budget_keys = (address, username)
        return None


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Only attempts whose password was checked: not those refused by a lockout or a wait.
    keys = getattr(request, "login_budget_keys", None)
    if keys:
        count_failure(address=keys[0], username=keys[1])


@receiver(user_logged_in)
def on_logged_in(sender, request, user, **kwargs):
    if getattr(request, "login_budget_keys", None):
        forget_login(user.get_username())
