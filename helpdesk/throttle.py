import logging
import time

from django.core.cache import cache
from redis.exceptions import RedisError

from accounts.client import client_ip

log = logging.getLogger(__name__)


def allow(request, scope, limit, window):
    """Count one hit for the client address in a fixed window; False once over ``limit``.

    Kept in the cache: Redis when configured, so every web process shares the count. While Redis
    is down or stuck the hit is let through: the public form must keep taking requests then.
    """
    address = client_ip(request)
    key = f"throttle:{scope}:{address}:{int(time.time() // window)}"
    try:
        cache.add(key, 0, window)
        return cache.incr(key) <= limit
    except ValueError:  # the key expired between add and incr
        return True
    except RedisError as error:
        log.warning("Throttle %s not counted, the cache is unavailable: %s", scope, error)
        return True
