"""What a limited call costs on Redis: one round trip on its path, whatever its limits.

The reserve before the call is waited for (its answer decides whether the call goes); the
settle after it (corrections, the end of a ``concurrent`` lease) is sent without waiting
for its reply (`persona_llm.state._wire`). These tests count the commands Redis receives
(``MONITOR``, which shows the commands a script runs apart from the clients' own) and
check that a settle neither waits for Redis nor gets lost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from persona_llm.containers import Container
from persona_llm.state.redis import RedisStore
from persona_llm.state.store import LeaseRule, StoreError, WindowRule
from persona_llm.testing.redis_server import RedisServer

Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@contextmanager
def commands_sent(server: RedisServer) -> Iterator[list[str]]:
    """The names of the commands clients send while the block runs (not scripts' own)."""
    seen: list[str] = []
    marker = f"end-of-count-{time.time_ns()}"
    spy = redis.Redis.from_url(server.url)
    ender = redis.Redis.from_url(server.url)
    ender.ping()  # connected (and its HELLO sent) before the count starts
    ready = threading.Event()

    def watch() -> None:
        with spy.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if command["client_type"] == "lua":
                    continue
                if marker in command["command"]:
                    return
                seen.append(command["command"].split()[0].upper())

    watcher = threading.Thread(target=watch)
    watcher.start()
    ready.wait(5)
    time.sleep(0.1)  # MONITOR is in place once the server answered it
    try:
        yield seen
    finally:
        ender.echo(marker)
        watcher.join(5)
        spy.close()
        ender.close()


@pytest.fixture
def on_redis(container_with: Build, redis_server: RedisServer, prefix: str) -> Build:
    def build(limits: str, **settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": "fake/echo",
            "llm_state": redis_server.url,
            "llm_state_prefix": prefix,
            "llm_rate_limits": limits,
            "llm_rate_window": 30,
        }
        container = container_with(**(values | settings))
        container.state().store.info()
        return container

    return build


@pytest.mark.parametrize(
    "limits", ["fake/*=100rpm", "fake/*=100rpm,100000tpm", "fake/*=100rpm,100000tpm,1concurrent"]
)
def test_a_limited_call_waits_for_one_round_trip(
    on_redis: Build, redis_server: RedisServer, limits: str
) -> None:
    container = on_redis(limits)
    client = container.chat_client()
    client.chat(user("warm up"))  # connections made, scripts loaded
    with commands_sent(redis_server) as sent:
        for index in range(5):
            client.chat(user(f"call {index}"), max_tokens=50)
    # one reserve (EVALSHA, waited for) per call; a settle, when one is needed (a lease to
    # end, a correction that grows), is an EVAL sent without waiting; nothing else
    assert sent.count("EVALSHA") == 5
    assert set(sent) <= {"EVALSHA", "EVAL"}
    assert sent.count("EVAL") <= 5
    if "concurrent" in limits:
        assert sent.count("EVAL") == 5  # every lease ended
    # 1concurrent: each call found the lease of the one before it already ended
    assert container.usage_tracker().report().total.limiter_waits == 0


def test_a_settle_does_not_wait_for_redis_and_is_applied(
    redis_store: RedisStore, redis_server: RedisServer
) -> None:
    lease = LeaseRule("c", 1, ttl=60)
    assert redis_store.acquire([lease], "call").admitted
    sleeper = threading.Thread(
        target=lambda: redis.Redis.from_url(redis_server.url).execute_command("DEBUG", "SLEEP", 0.6)
    )
    sleeper.start()
    time.sleep(0.15)  # the server is asleep now
    started = time.monotonic()
    redis_store.settle([], [("c", "call")])
    took = time.monotonic() - started
    sleeper.join()
    assert took < 0.3  # a waited-for reply would have taken the rest of the 0.6 s sleep
    assert redis_store.acquire([lease], "next").admitted  # the lease had ended


async def test_an_asyncio_settle_does_not_wait_either(
    redis_store: RedisStore, redis_server: RedisServer
) -> None:
    lease = LeaseRule("c", 1, ttl=60)
    assert (await redis_store.aacquire([lease], "call")).admitted
    sleeper = threading.Thread(
        target=lambda: redis.Redis.from_url(redis_server.url).execute_command("DEBUG", "SLEEP", 0.6)
    )
    sleeper.start()
    await asyncio.sleep(0.15)
    started = time.monotonic()
    await redis_store.asettle([], [("c", "call")])
    took = time.monotonic() - started
    sleeper.join()
    assert took < 0.3
    assert (await redis_store.aacquire([lease], "next")).admitted
    await redis_store.aclose()


@pytest.fixture
def two_workers(
    own_server: Callable[..., RedisServer],
) -> tuple[RedisServer, RedisStore, RedisStore]:
    """A redis-server of the test's own, our store on it and another worker's."""
    server = own_server()
    ours = RedisStore(server.url, prefix="p:", timeout=1.0)
    other = RedisStore(server.url, prefix="p:", timeout=1.0)
    return server, ours, other


def test_a_settle_after_a_restart_reaches_the_new_server(
    two_workers: tuple[RedisServer, RedisStore, RedisStore],
) -> None:
    server, ours, other = two_workers
    lease = LeaseRule("c", 1, ttl=60)
    assert ours.acquire([lease], "a").admitted  # our connection is made
    server.kill()
    server.start()  # same port, empty; our idle connection is dead
    assert other.acquire([lease], "a").admitted  # the new server's lease, same token
    ours.settle([], [("c", "a")])  # must notice the dead connection and send on a new one
    assert other.acquire([lease], "b").admitted
    ours.close()
    other.close()


def test_scripts_flushed_from_redis_are_sent_again(
    redis_store: RedisStore, redis_server: RedisServer
) -> None:
    rule = WindowRule("w", 2, 60, 1)
    assert redis_store.acquire([rule], "a").admitted
    assert redis_server.command("SCRIPT", "FLUSH") == "+OK"
    assert redis_store.acquire([rule], "b").admitted  # NOSCRIPT: sent as EVAL instead
    assert not redis_store.acquire([rule], "c").admitted  # and it counted both


def test_a_fired_settle_that_redis_refuses_is_counted_when_its_reply_is_read(
    own_server: Callable[..., RedisServer],
) -> None:
    server = own_server()
    store = RedisStore(server.url, prefix="p:", timeout=1.0)
    seen: list[tuple[StoreError, str]] = []
    store.late_error = lambda error, what: seen.append((error, what))
    rule = WindowRule("w", 100, 60, 50)
    assert store.acquire([rule], "a").admitted
    server.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    server.command("CONFIG", "SET", "maxmemory", "1")
    store.settle([("w", "a", 70)], [])  # a write: refused (OOM), but nobody waits for it
    assert seen == []
    server.command("CONFIG", "SET", "maxmemory", "0")
    assert store.acquire([WindowRule("w", 100, 60, 1)], "b").admitted  # reads the reply first
    assert len(seen) == 1 and "OOM" in str(seen[0][0])
    assert seen[0][1] == "settle a rate-limit reservation"
    store.close()


def test_a_store_forked_with_unread_replies_starts_clean_in_the_child(
    redis_store: RedisStore,
) -> None:
    import multiprocessing

    lease = LeaseRule("c", 5, ttl=60)
    assert redis_store.acquire([lease], "parent").admitted
    redis_store.settle([], [("c", "parent")])  # its reply is unread in the parent
    context = multiprocessing.get_context("fork")
    result = context.Queue()

    def child() -> None:
        admitted = redis_store.acquire([lease], "child").admitted
        result.put(admitted)

    process = context.Process(target=child)
    process.start()
    process.join(10)
    assert result.get(timeout=1) is True
    assert redis_store.acquire([lease], "parent-again").admitted  # parent's replies in order


async def test_an_asyncio_settle_after_a_restart_reaches_the_new_server(
    two_workers: tuple[RedisServer, RedisStore, RedisStore],
) -> None:
    server, ours, other = two_workers
    lease = LeaseRule("c", 1, ttl=60)
    assert (await ours.aacquire([lease], "a")).admitted
    server.kill()
    server.start()
    assert other.acquire([lease], "a").admitted
    await ours.asettle([], [("c", "a")])
    assert other.acquire([lease], "b").admitted
    await ours.aclose()
    other.close()
