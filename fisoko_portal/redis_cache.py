"""Django's Redis cache, keeping one redis.Redis client per connection pool.

Django's own backend builds a new ``redis.Redis`` for every operation, and redis-py fills a table of
some 200 response callbacks in each: about 0.2 ms a call. A login makes seven calls (session,
lockout count), every page at least one. The client is thread-safe and holds no connection of its
own (the pool does), so one per pool is enough.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
