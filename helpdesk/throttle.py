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
    key = f"throttle:{scope}:{address}:{int(time.time() // window)}"
    cache.add(key, 0, window)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # the key expired between add and incr, or Redis is down
        return True
