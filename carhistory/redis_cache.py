"""Django's Redis cache backend, keeping one client per connection pool, plus Lua scripts.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` around the pool for every
cache call. With redis-py 8 that construction (response callbacks, event dispatcher) costs
more CPU than the round trip itself. A `redis.Redis` is safe to share between threads, so one
per pool is kept and reused. Measured in docs/PERFORMANCE.md, "Reports".

`script` lets a hot path do several steps in one round trip (the cached report counts the
lookup and finds the report at once); `loads` reads a value the script returns as Django
stored it. Scripts address keys made with `make_key`, all on the one (write) server.
"""

from django.core.cache.backends import redis as django_redis
from redis.commands.core import Script


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
        self._scripts: dict[str, Script] = {}

    def script(self, source: str) -> Script:
        """The Lua `source` as a callable `script(keys=[...], args=[...])` (EVALSHA, loaded
        once)."""
        script = self._scripts.get(source)
        if script is None:
            client = self._cache.get_client(write=True)
            script = self._scripts[source] = client.register_script(source)
        return script

    def loads(self, value: bytes):
        """A stored value as `get` would return it."""
        return self._cache._serializer.loads(value)
