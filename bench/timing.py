"""Bench-only instrumentation: a request's time in Django, and the part of it spent verifying passwords.

Both are measured in the worker, on the same request, so the difference is the view's own cost
whatever else the machine is doing at that moment.
"""

import threading
import time

from accounts.hashers import Argon2idHasher

_spent = threading.local()


class TimedArgon2idHasher(Argon2idHasher):
    """The production hasher, unchanged, with a stopwatch around ``verify``."""

    def verify(self, password, encoded):
        started = time.perf_counter()
        try:
            return super().verify(password, encoded)
        finally:
            _spent.hashing = getattr(_spent, "hashing", 0.0) + time.perf_counter() - started


def middleware(get_response):
    def timed(request):
        _spent.hashing = 0.0
        started = time.perf_counter()
        response = get_response(request)
        response["X-Bench-Server-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
        response["X-Bench-Hash-Ms"] = f"{_spent.hashing * 1000:.3f}"
        return response

    return timed
