"""On Redis, a worker keeps the cached replies it read for ``LLM_CACHE_LOCAL_TTL`` seconds.

The same request again in that worker is a hit without a round trip; a kept reply never
outlives its entry, is a copy of its own on every hit, and at most `LOCAL_ENTRIES` are kept.
The round trips are counted on the real server (``INFO commandstats``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from persona_llm.containers import Container
from persona_llm.state.cache import LOCAL_ENTRIES, ResponseCache
from persona_llm.state.guard import StoreGuard
from persona_llm.state.redis import RedisStore
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.redis_server import RedisServer
from persona_llm.types import ChatResponse, Usage

Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _reply(text: str = "hi") -> ChatResponse:
    return ChatResponse(
        content=text, model="m", provider="p", finish_reason="stop", usage=Usage(prompt_tokens=3)
    )


@pytest.fixture
def reads(redis_server: RedisServer) -> Iterator[Callable[[], int]]:
    """``reads()``: how many MGETs (cache reads) the server has answered so far."""
    spy = redis.Redis.from_url(redis_server.url)

    def count() -> int:
        return int(spy.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))

    yield count
    spy.close()


@pytest.fixture
def on_redis(container_with: Build, redis_server: RedisServer, prefix: str) -> Build:
    def build(**settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": "fake/echo",
            "llm_state": redis_server.url,
            "llm_state_prefix": prefix,
            "llm_cache": "redis",
        }
        return container_with(**(values | settings))

    return build


def test_a_repeated_hit_is_answered_in_the_worker(
    on_redis: Build, reads: Callable[[], int]
) -> None:
    container = on_redis()
    client = container.chat_client()
    first = client.chat(user("What is a graph?"))  # a miss: read, then stored
    before = reads()
    second = client.chat(user("What is a graph?"))  # a hit read from Redis, then kept
    assert reads() == before + 1
    third = client.chat(user("What is a graph?"))  # a hit kept in the worker
    assert reads() == before + 1
    assert not first.cached and second.cached and third.cached
    assert third.content == first.content and third.cost_usd == 0
    assert third.usage == first.usage
    third.content = "changed by the caller"
    assert client.chat(user("What is a graph?")).content == first.content  # a copy each time
    assert len(container.fake.adapter().calls) == 1
    total = container.usage_tracker().report().total
    assert (total.cache_hits, total.cache_misses) == (3, 1)


def test_local_ttl_zero_reads_redis_on_every_hit(on_redis: Build, reads: Callable[[], int]) -> None:
    client = on_redis(llm_cache_local_ttl=0).chat_client()
    client.chat(user("again"))
    before = reads()
    for _ in range(3):
        assert client.chat(user("again")).cached
    assert reads() == before + 3


def test_only_redis_caches_keep_replies_in_the_worker(
    on_redis: Build, container_with: Build, tmp_path: Any
) -> None:
    container = on_redis()
    assert container.state().cache.local_ttl == 5
    container.reset_singletons()
    assert on_redis(llm_cache_local_ttl=1.5).state().cache.local_ttl == 1.5
    for where in ("memory", f"sqlite:///{tmp_path / 'c.db'}"):
        container.reset_singletons()
        container = container_with(llm_service="fake/echo", llm_cache=where)
        assert container.state().cache.local_ttl == 0  # local already: nothing to save


def test_a_kept_reply_is_dropped_after_the_local_ttl(
    redis_store: RedisStore, reads: Callable[[], int]
) -> None:
    clock = FakeClock()
    cache = ResponseCache(
        redis_store, StoreGuard("r"), ttl=100, version="1", local_ttl=5, clock=clock, wall=clock
    )
    cache.put("k", _reply())
    before = reads()
    assert cache.get("k") is not None and cache.get("k") is not None
    assert reads() == before + 1
    clock.advance(4.9)
    assert cache.get("k") is not None
    assert reads() == before + 1
    clock.advance(0.2)
    assert cache.get("k") is not None
    assert reads() == before + 2  # asked Redis again, and kept it again


def test_a_kept_reply_never_outlives_its_entry(redis_store: RedisStore) -> None:
    cache = ResponseCache(redis_store, StoreGuard("r"), ttl=0.3, version="1", local_ttl=5)
    cache.put("k", _reply())
    assert cache.get("k") is not None  # read from Redis and kept
    time.sleep(0.45)  # the entry expired in Redis; the worker's copy with it
    assert cache.get("k") is None


def test_kept_replies_are_bounded(redis_store: RedisStore, reads: Callable[[], int]) -> None:
    cache = ResponseCache(redis_store, StoreGuard("r"), ttl=100, version="1", local_ttl=60)
    keys = [f"k{i}" for i in range(LOCAL_ENTRIES + 1)]
    for key in keys:
        cache.put(key, _reply(key))
    for key in keys:
        assert cache.get(key) is not None
    before = reads()
    found = cache.get(keys[-1])
    assert found is not None and found.content == keys[-1] and reads() == before  # kept
    found = cache.get(keys[0])
    assert found is not None and found.content == keys[0] and reads() == before + 1  # dropped


def test_a_corrupt_entry_is_neither_a_hit_nor_kept(
    redis_store: RedisStore, reads: Callable[[], int]
) -> None:
    cache = ResponseCache(redis_store, StoreGuard("r"), ttl=100, version="1", local_ttl=60)
    redis_store.set_many({"k": b'{"f": 3, "v": "1", "e": null, "p": 7}'}, ttl=None)
    before = reads()
    assert cache.get("k") is None and cache.get("k") is None
    assert reads() == before + 2
    cache.put("k", _reply("fresh"))  # overwritten
    found = cache.get("k")
    assert found is not None and found.content == "fresh"


async def test_asyncio_hits_are_kept_too(redis_store: RedisStore, reads: Callable[[], int]) -> None:
    cache = ResponseCache(redis_store, StoreGuard("r"), ttl=100, version="1", local_ttl=60)
    await cache.aput("k", _reply("async"))
    before = reads()
    first, second = await cache.aget("k"), await cache.aget("k")
    assert first is not None and second is not None and first is not second
    assert second.content == "async" and second.cached
    assert reads() == before + 1
    await redis_store.aclose()
