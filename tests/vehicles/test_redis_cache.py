"""The Redis cache backend that keeps its client behaves as Django's own."""

import pytest
from django.conf import settings

from carhistory.redis_cache import RedisCache


@pytest.fixture
def redis_cache():
    backend = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": "h5-backend-test"})
    backend.clear()
    yield backend
    backend.clear()


def test_it_keeps_one_client(redis_cache):
    assert redis_cache._cache.get_client() is redis_cache._cache.get_client(write=True)


def test_it_stores_reads_counts_and_forgets(redis_cache):
    redis_cache.set("report", (1, b"{}"), 60)
    assert redis_cache.get_many(["report", "missing"]) == {"report": (1, b"{}")}
    assert redis_cache.add("generation", 1) is True
    assert redis_cache.add("generation", 5) is False
    assert redis_cache.incr("generation") == 2
    assert redis_cache.delete("report") is True
    assert redis_cache.get("report") is None


def test_a_script_reads_values_as_django_stored_them(redis_cache):
    redis_cache.set("report", (1, b"{}"), 60)
    script = redis_cache.script("return redis.call('GET', KEYS[1])")
    assert script is redis_cache.script("return redis.call('GET', KEYS[1])")
    stored = script(keys=[redis_cache.make_key("report")])
    assert redis_cache.loads(stored) == (1, b"{}")
