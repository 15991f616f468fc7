"""config.cache.RedisCache: Django's Redis cache, one redis-py client per pool, on a real Redis."""

from __future__ import annotations

import os
import threading

import pytest

from config.cache import RedisCache

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (a real Redis)")


def _cache() -> RedisCache:
    return RedisCache(REDIS_URL, {"KEY_PREFIX": "test-config-cache", "OPTIONS": {"socket_timeout": 1}})


def test_one_client_serves_every_call_and_the_cache_works():
    cache = _cache()
    client = cache._cache.get_client(write=True)

    cache.set("answer", {"value": 42}, 30)
    assert cache.get("answer") == {"value": 42}
    assert cache.add("counter", 1, 30) and cache.incr("counter") == 2
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client(write=False) is client  # one server: reads and writes share it
    cache.delete_many(["answer", "counter"])


def test_the_shared_client_is_safe_across_threads():
    cache = _cache()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set(f"t{n}-{i}", i, 30)
                assert cache.get(f"t{n}-{i}") == i
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cache.delete_many([f"t{n}-{i}" for n in range(8) for i in range(50)])
