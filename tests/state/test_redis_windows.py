"""The Redis reserve script's windows (`persona_llm.state._lua.ACQUIRE`): what its cheaper
bookkeeping must keep exact.

A window's hash keeps the sum of its amounts, changes are written once per reserve, both
keys' expiry is renewed once a window length (they live up to two), and entries that left
the window are removed lazily: when a call does not fit under the sum that still counts
them (then exactly), or as housekeeping a 60th of the window after they left. These tests read
the keys Redis holds.
"""

from __future__ import annotations

import time

import redis

from persona_llm.state.redis import RedisStore
from persona_llm.state.store import WindowRule
from persona_llm.testing.redis_server import RedisServer


def test_many_entries_leaving_at_once_free_exactly_their_amounts(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    # 2,500 entries leave in one reserve: more than one batch of the script's HMGET/HDEL
    for index in range(2500):
        assert redis_store.acquire([WindowRule("w", 10**9, 0.5, 3)], f"t{index}").admitted
    time.sleep(0.6)
    # a limit the 2,500 left entries would exceed: they are removed before the call is judged
    assert redis_store.acquire([WindowRule("w", 100, 0.5, 7)], "late").admitted
    raw = redis.Redis.from_url(redis_server.url)
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 7  # type: ignore[arg-type]
    assert raw.zcard(f"{prefix}w") == 1
    assert raw.hkeys(f"{prefix}w:a") and b"t0" not in raw.hkeys(f"{prefix}w:a")


def test_corrections_and_entries_add_up_in_the_sum(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    rule = WindowRule("w", 1000, 60, 500)
    assert redis_store.acquire([rule], "a").admitted
    # a's correction and b's reserve in one script; a correction of an unknown token is a
    # no-op (it left the window)
    assert redis_store.acquire([rule], "b", [("w", "a", 20), ("w", "gone", 5)]).admitted
    raw = redis.Redis.from_url(redis_server.url)
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 520  # type: ignore[arg-type]
    assert raw.hget(f"{prefix}w:a", "a") == b"20"
    refused = redis_store.acquire([WindowRule("w", 1000, 60, 531)], "c", [("w", "b", 450)])
    assert not refused.admitted and refused.used == 470  # the correction counted, and kept
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 470  # type: ignore[arg-type]


def test_both_keys_expire_after_at_most_two_windows(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    rule = WindowRule("w", 100, 30, 1)
    assert redis_store.acquire([rule], "a").admitted
    raw = redis.Redis.from_url(redis_server.url)
    for key in (f"{prefix}w", f"{prefix}w:a"):
        assert 30_000 < raw.pttl(key) <= 61_000
    raw.persist(f"{prefix}w")  # renewed once a window, not on every reserve:
    assert redis_store.acquire([rule], "b").admitted
    assert raw.pttl(f"{prefix}w") == -1


def test_a_hash_whose_set_is_gone_starts_over(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    rule = WindowRule("w", 100, 30, 60)
    assert redis_store.acquire([rule], "a").admitted
    raw = redis.Redis.from_url(redis_server.url)
    raw.delete(f"{prefix}w")  # the set evicted, the hash left behind with its sum
    raw.hset(f"{prefix}w:a", "_exp", "0")  # as when its renewal is due
    assert redis_store.acquire([rule], "b").admitted  # 60 + 60 > 100 had the sum stayed
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 60  # type: ignore[arg-type]


def test_entries_that_left_still_count_until_a_call_needs_their_room(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    for index in range(10):
        assert redis_store.acquire([WindowRule("w", 10, 0.5, 1)], f"t{index}").admitted
    assert not redis_store.acquire([WindowRule("w", 10, 0.5, 1)], "full").admitted
    time.sleep(0.6)
    raw = redis.Redis.from_url(redis_server.url)
    seconds, micros = raw.time()
    # as right after a removal (housekeeping runs a 60th of the window apart): the hash
    # says no entry is older than now
    raw.hset(f"{prefix}w:a", "_old", seconds * 1000 + micros // 1000)
    # room to spare under the sum that still counts the left entries: they stay (no scan)
    assert redis_store.acquire([WindowRule("w", 100, 0.5, 1)], "roomy").admitted
    assert raw.zcard(f"{prefix}w") == 11
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 11  # type: ignore[arg-type]
    raw.hset(f"{prefix}w:a", "_old", 0)  # the truth: some may be older than the window
    # a call that needs their room gets it exactly: the whole limit again
    assert redis_store.acquire([WindowRule("w", 10, 0.5, 9)], "needs").admitted
    assert raw.zcard(f"{prefix}w") == 2
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 10  # type: ignore[arg-type]
    assert not redis_store.acquire([WindowRule("w", 10, 0.5, 1)], "over").admitted


def test_entries_that_left_are_removed_a_60th_of_the_window_later_anyway(
    redis_store: RedisStore, redis_server: RedisServer, prefix: str
) -> None:
    for index in range(50):
        assert redis_store.acquire([WindowRule("w", 10**9, 0.5, 2)], f"t{index}").admitted
    time.sleep(0.5 + 0.5 / 60 + 0.1)  # the window, a 60th of it, a margin
    assert redis_store.acquire([WindowRule("w", 10**9, 0.5, 7)], "late").admitted
    raw = redis.Redis.from_url(redis_server.url)
    assert raw.zcard(f"{prefix}w") == 1
    assert float(raw.hget(f"{prefix}w:a", "_sum")) == 7  # type: ignore[arg-type]
