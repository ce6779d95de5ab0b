"""Django's Redis cache with two changes: one client per connection pool, and Redis down is a miss.

Django's own backend builds a new ``redis.Redis`` for every operation, and redis-py fills a table of
some 200 response callbacks in each: about 0.2 ms a call, and a login makes seven. The client is
thread-safe and holds no connection of its own (the pool does), so one per pool is enough.

Sessions, django-axes' failure counts and the helpdesk throttle live in this cache. When Redis is
down or stuck (the socket timeouts in settings bound the wait), or refuses writes (a read-only
replica after a failover, ``maxmemory`` reached under ``noeviction``: a ``ResponseError``), each
operation logs the error and acts as if the key were missing, so pages keep answering: sessions fall
back to PostgreSQL (``cached_db``), and lockouts and throttles stop counting until Redis is back.
The budgets against password spraying count in PostgreSQL (accounts/login_budget.py) and go on.
"""

import logging
import time

import redis.exceptions
from django.core.cache.backends import redis as django_redis

log = logging.getLogger(__name__)
# ResponseError covers READONLY and OOM replies; before it was here, either made every login a 500.
DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ResponseError)


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    # After a failure, calls skip Redis for this long: a stuck Redis costs one timeout a page, not one
    # per cache call (a request post reads and writes the cache several times).
    BACK_OFF = 5.0
    _down_until = 0.0

    def _or(self, fallback, operation, *args, **kwargs):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return getattr(super(), operation)(*args, **kwargs)
        except DOWN as error:
            self._down_until = time.monotonic() + self.BACK_OFF
            log.error("Redis cache %s failed, treated as a miss: %s", operation, error)
            return fallback

    def add(self, key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        # "Added": counters (the throttle, django-axes) then start afresh instead of incr-ing nothing.
        return self._or(True, "add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._or(default, "get", key, default, version)

    def set(self, key, value, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        return self._or(None, "set", key, value, timeout, version)

    def touch(self, key, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        return self._or(False, "touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._or(False, "delete", key, version)

    def has_key(self, key, version=None):
        return self._or(False, "has_key", key, version)

    def get_many(self, keys, version=None):
        return self._or({}, "get_many", keys, version)

    def set_many(self, data, timeout=django_redis.DEFAULT_TIMEOUT, version=None):
        return self._or(list(data), "set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._or(None, "delete_many", keys, version)

    def incr(self, key, delta=1, version=None):
        value = self._or(None, "incr", key, delta, version)
        if value is None:  # Redis down: what a missing key raises, so counters start afresh
            raise ValueError(f"Key '{key}' not found")
        return value
