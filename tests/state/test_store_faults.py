"""A Redis that dies, comes back, stalls or fills up never hangs or breaks a call.

Each test runs a redis-server of its own (with a password, to check it never shows), and a
fake-provider container rate-limited on it, with the store timeout at 0.2 s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from state_helpers import timed

from persona_llm.containers import Container
from persona_llm.errors import ProviderUnavailableError, RateLimitError
from persona_llm.testing.redis_server import RedisServer

PASSWORD = "pw-Do-Not-Show-42"
Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def server(own_server: Callable[..., RedisServer]) -> RedisServer:
    return own_server(password=PASSWORD)


@pytest.fixture
def on_redis(container_with: Build, server: RedisServer) -> Build:
    def build(**settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": "fake/echo",
            "llm_state": server.url,
            "llm_state_timeout": 0.2,
            "llm_rate_limits": "fake/*=2rpm",
            "llm_rate_window": 30,
            "llm_timeout": 0.5,
            "llm_cache": "redis",
        }
        container = container_with(**(values | settings))
        container.state().store.info()  # connected before the timing starts
        return container

    return build


def test_killed_mid_run_open_proceeds_unlimited(
    on_redis: Build, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    container = on_redis()
    client = container.chat_client()
    client.chat(user("one"))
    server.kill()
    with caplog.at_level(logging.WARNING, "persona_llm.state"):
        for n in range(5):  # over the 2rpm limit: nothing can count it, so all go through
            took, result = timed(lambda n=n: client.chat(user(f"after {n}")))
            assert not isinstance(result, Exception), result
            assert took < 0.2 + 0.3
    warnings = [r for r in caplog.records if r.name == "persona_llm.state"]
    assert len(warnings) == 1  # once a minute, not once a call
    assert PASSWORD not in caplog.text and "***@" in caplog.text
    assert container.usage_tracker().report().total.store_errors >= 5


def test_killed_mid_run_closed_refuses_naming_the_store(
    on_redis: Build, server: RedisServer
) -> None:
    container = on_redis(llm_state_on_error="closed")
    client = container.chat_client()
    client.chat(user("one"))
    server.kill()
    took, result = timed(lambda: client.chat(user("two")))
    assert isinstance(result, ProviderUnavailableError) and result.retryable
    assert "state store" in result.message and "LLM_STATE_ON_ERROR=closed" in result.message
    assert PASSWORD not in str(result) and f"redis://***@127.0.0.1:{server.port}" in str(result)
    assert took < 0.2 + 0.3
    assert len(container.fake.adapter().calls) == 1


def test_restarted_redis_starts_over_without_a_crash(on_redis: Build, server: RedisServer) -> None:
    container = on_redis()
    client = container.chat_client()
    client.chat(user("a"))
    client.chat(user("b"))
    with pytest.raises(RateLimitError):
        client.chat(user("c"))
    server.kill()
    server.start()  # same port, empty
    client.chat(user("during the pause"))  # a stale connection fails over to a new one
    time.sleep(1.1)  # the guard's pause after a failure
    client.chat(user("d"))
    with pytest.raises(RateLimitError):  # the window is counted again
        client.chat(user("e"))


def test_a_stalled_redis_costs_at_most_the_store_timeout(
    on_redis: Build, server: RedisServer
) -> None:
    container = on_redis(llm_rate_limits="fake/*=100rpm")
    client = container.chat_client()
    client.chat(user("warm"))
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.5"))
    stall.start()
    time.sleep(0.1)
    try:
        took, result = timed(lambda: client.chat(user("while stalled")))
        assert not isinstance(result, Exception), result
        assert took < 2 * 0.2 + 0.3  # the cache read times out, then the paused guard skips
        took, result = timed(lambda: client.chat(user("still stalled")))
        assert took < 0.1  # paused: not even tried
    finally:
        stall.join()


def test_a_stalled_redis_closed_refuses_quickly(on_redis: Build, server: RedisServer) -> None:
    container = on_redis(llm_rate_limits="fake/*=100rpm", llm_state_on_error="closed")
    client = container.chat_client()
    client.chat(user("warm"))
    stall = threading.Thread(target=server.command, args=("DEBUG", "SLEEP", "1.5"))
    stall.start()
    time.sleep(0.1)
    try:
        took, result = timed(lambda: client.chat(user("while stalled")))
        assert isinstance(result, ProviderUnavailableError)
        assert took < 2 * 0.2 + 0.3
    finally:
        stall.join()


def test_a_full_redis_refuses_writes_and_calls_carry_on(
    on_redis: Build, server: RedisServer
) -> None:
    container = on_redis(llm_rate_limits="fake/*=100rpm")
    client = container.chat_client()
    first = client.chat(user("stored before it filled up"))
    assert server.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK"
    assert server.command("CONFIG", "SET", "maxmemory", "1") == "+OK"
    assert server.command("SET", "x", "y").startswith("-OOM")  # type: ignore[union-attr]
    again = client.chat(user("stored before it filled up"))
    assert again.cached and again.content == first.content  # reads still work
    fresh = client.chat(user("new while full"))
    assert not fresh.cached
    assert container.usage_tracker().report().total.store_errors >= 1


def test_a_full_redis_closed_refuses_limited_calls(on_redis: Build, server: RedisServer) -> None:
    container = on_redis(llm_rate_limits="fake/*=100rpm", llm_state_on_error="closed")
    client = container.chat_client()
    server.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    server.command("CONFIG", "SET", "maxmemory", "1")
    with pytest.raises(ProviderUnavailableError, match="OOM"):
        client.chat(user("x"))
