"""Django's Redis cache backend, keeping one client per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` around the pool for every
cache call. With redis-py 8 that construction (response callbacks, event dispatcher) costs
more CPU than the round trip itself, and a cached report lookup makes three cache calls (two
for the throttle, one for the report). A `redis.Redis` is safe to share between threads, so
one per pool is kept and reused. Measured in docs/PERFORMANCE.md, "Reports".

Use it with `CACHES["default"]["BACKEND"] = "carhistory.vehicles.redis_backend.RedisCache"`.
"""

from django.core.cache.backends import redis as django_redis


class ReusingRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
