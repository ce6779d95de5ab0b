import math
import time

from django.core.cache import cache

from accounts.client import client_ip

# Kept in the cache: Redis when configured, so every web process shares the counts. While Redis is
# down or refuses writes the cache answers as if the key were missing (fisoko_portal/redis_cache.py),
# so hits are let through: the public form keeps taking requests then.


def _key(request, scope, window):
    return f"throttle:{scope}:{client_ip(request)}:{int(time.time() // window)}"


def record(request, scope, window):
    """Count one hit for the client address in a fixed window; return the window's count so far."""
    key = _key(request, scope, window)
    cache.add(key, 0, window)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr, or Redis is down
        return 0


def allow(request, scope, limit, window):
    """Count one hit; False once over ``limit``."""
    return record(request, scope, window) <= limit


def spent(request, scope, limit, window):
    """Whether the address has already had ``limit`` hits in this window; counts nothing."""
    return cache.get(_key(request, scope, window), 0) >= limit


def seconds_left(window):
    """Until the current window ends and its counts start afresh (for Retry-After)."""
    return math.ceil(window - time.time() % window)
