import time

from django.core.cache import cache

from accounts.client import client_ip


def allow(request, scope, limit, window):
    """Count one hit for the client address in a fixed window; False once over ``limit``.

    Kept in the cache: Redis when configured, so every web process shares the count. While Redis
    is down or stuck the cache answers as if the key were missing (fisoko_portal/redis_cache.py),
    so the hit is let through: the public form keeps taking requests then.
    """
    address = client_ip(request)
    now = time.time()
    key = f"throttle:{scope}:{address}:{int(now // window)}"
    cache.add(key, 0, window)
    try:
        allowed = cache.incr(key) <= limit
    except ValueError:  # the key expired between add and incr, or Redis is down
        return True
    if not allowed:
        # Seconds until the window starts again: the refusal page says when to try again.
        request.throttle_retry_after = int(window - now % window) + 1
    return allowed
