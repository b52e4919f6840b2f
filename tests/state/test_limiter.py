"""Client-side rate limits through the whole stack (facade → cache → limiter → fake)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from persona_llm.containers import Container
from persona_llm.errors import ConfigurationError, RateLimitError
from persona_llm.providers.fake import FakeProvider
from persona_llm.state.config import parse_rate_limits
from persona_llm.state.limiter import DEFAULT_OUTPUT_TOKENS, estimate_chat
from persona_llm.testing.redis_server import RedisServer
from persona_llm.types import ChatMessage, ChatRequest

Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(params=["memory", "redis"])
def limited(
    request: pytest.FixtureRequest, container_with: Build, prefix: str
) -> Callable[..., Container]:
    """``limited(limits, **settings)``: a fake-provider container under `limits`."""

    def build(limits: str, **settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": "fake/echo",
            "llm_rate_limits": limits,
            "llm_rate_window": 0.5,
        }
        if request.param == "redis":
            server: RedisServer = request.getfixturevalue("redis_server")
            values |= {"llm_state": server.url, "llm_state_prefix": prefix}
        container = container_with(**(values | settings))
        container.state().store.info()  # connect now: the tests time the calls
        return container

    return build


def test_calls_within_the_limit_go_straight_through(limited: Build) -> None:
    container = limited("fake/*=3rpm")
    started = time.monotonic()
    for _ in range(3):
        container.chat_client().chat(user("hi"))
    assert time.monotonic() - started < 0.3
    row = container.usage_tracker().report().total
    assert row.calls == 3 and row.limiter_waits == 0


def test_a_call_over_the_limit_waits_for_room(limited: Build) -> None:
    container = limited("fake/*=3rpm")
    client = container.chat_client()
    for _ in range(3):
        client.chat(user("hi"))
    started = time.monotonic()
    client.chat(user("hi"))
    assert 0.3 < time.monotonic() - started < 1.0
    total = container.usage_tracker().report().total
    assert total.limiter_waits == 1 and total.limiter_wait_s > 0.3


def test_no_room_within_the_deadline_raises_our_own_rate_limit_error(limited: Build) -> None:
    container = limited("fake/echo=2rpm", llm_rate_window=30, llm_timeout=0.2)
    client = container.chat_client()
    client.chat(user("a"))
    client.chat(user("b"))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        client.chat(user("c"))
    assert time.monotonic() - started < 0.2  # room comes in ~30 s: no point waiting
    error = caught.value
    assert error.local and error.status_code is None and error.retryable
    assert 29 < (error.retry_after or 0) <= 30
    assert "LLM_RATE_LIMITS fake/echo=2rpm" in error.message
    assert "2 of 2 used" in error.message and "no request was sent" in error.message
    assert len(container.fake.adapter().calls) == 2
    total = container.usage_tracker().report().total
    assert total.rate_limited_locally == 1 and total.errors == 1


def test_a_local_refusal_fails_over_to_the_next_target(limited: Build) -> None:
    container = limited(
        "fake/echo=1rpm", llm_rate_window=30, llm_timeout=0.2, llm_fallbacks="fake/backup"
    )
    client = container.chat_client()
    client.chat(user("first"))
    client.chat(user("second"))
    assert [call.model for call in container.fake.adapter().calls] == ["echo", "backup"]


def test_the_token_reservation_is_corrected_with_the_real_usage(limited: Build) -> None:
    # Each call reserves ~6 input + 80 output tokens; the echo really uses 4: without
    # the correction the second call would not fit.
    container = limited("fake/*=150tpm", llm_rate_window=30, llm_timeout=0.2)
    client = container.chat_client()
    for _ in range(5):
        client.chat(user("one two"), max_tokens=80)
    assert len(container.fake.adapter().calls) == 5


def test_a_call_larger_than_a_token_limit_is_refused_at_once(limited: Build) -> None:
    container = limited("fake/*=100tpm,10otpm")
    with pytest.raises(RateLimitError, match="larger than the limit") as caught:
        container.chat_client().chat(user("hi"), max_tokens=50)
    assert caught.value.retry_after is None
    assert container.fake.adapter().calls == []


def test_concurrent_limits_cap_calls_in_flight(limited: Build) -> None:
    container = limited("*=2concurrent")
    fake = FakeProvider(delay=0.1)
    container.fake.adapter.override(fake)
    client = container.chat_client()
    threads = [threading.Thread(target=client.chat, args=(user("hi"),)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.calls) == 6 and fake.max_in_flight == 2


async def test_asyncio_calls_wait_for_room_too(limited: Build) -> None:
    container = limited("fake/*=2rpm")
    client = container.async_chat_client()
    started = time.monotonic()
    for _ in range(3):
        await client.chat(user("hi"))
    assert 0.3 < time.monotonic() - started < 1.0


def test_embeddings_are_limited_too(limited: Build) -> None:
    container = limited("fake/*=1rpm", llm_rate_window=30, llm_timeout=0.2)
    client = container.embedding_client()
    client.embeddings(["a"])
    with pytest.raises(RateLimitError):
        client.embeddings(["b"])


def test_streams_reserve_and_settle(limited: Build) -> None:
    container = limited("fake/*=1rpm", llm_rate_window=30, llm_timeout=0.2)
    client = container.chat_client()
    assert "".join(chunk.delta for chunk in client.stream(user("hi there"))) == "hi there"
    with pytest.raises(RateLimitError):
        client.stream(user("again"))


def test_limits_without_a_match_leave_the_stack_unwrapped(limited: Build) -> None:
    container = limited("openai/*=1rpm")
    assert container.chat_adapter() is container.fake.adapter()


def test_the_estimate_counts_characters_and_max_tokens() -> None:
    request = ChatRequest(messages=(ChatMessage(role="user", content="x" * 400),), max_tokens=7)
    estimate = estimate_chat(request)
    assert (estimate.input_tokens, estimate.output_tokens) == (104, 7)
    unbounded = ChatRequest(messages=(ChatMessage(role="user", content="hi"),))
    assert estimate_chat(unbounded).output_tokens == DEFAULT_OUTPUT_TOKENS


def test_the_limit_syntax() -> None:
    entries = parse_rate_limits(
        "openai/gpt-4o-mini=500rpm,200000tpm; anthropic/*=50rpm,40000itpm,8000otpm; *=20concurrent"
    )
    assert [e.pattern for e in entries] == ["openai/gpt-4o-mini", "anthropic/*", "*"]
    assert entries[0].rpm == 500 and entries[0].tpm == 200000
    assert entries[1].itpm == 40000 and entries[1].otpm == 8000 and entries[2].concurrent == 20
    assert entries[1].matches("anthropic", "claude") and not entries[0].matches("openai", "o3")
    for bad in ("openai=5rpm", "openai/x=5", "openai/x=5rph", "*=0rpm", "a/b=1rpm;a/b=2rpm"):
        with pytest.raises(ConfigurationError, match="LLM_RATE_LIMITS"):
            parse_rate_limits(bad)


def test_routes_are_limited_and_cached_too(container_with: Build) -> None:
    container = container_with(
        llm_service="fake/echo",
        llm_routes="extraction=fake/router-model",
        llm_rate_limits="fake/router-model=1rpm",
        llm_rate_window=30,
        llm_timeout=0.2,
        llm_cache="memory",
    )
    client = container.router().chat_client("extraction")
    client.chat(user("a"))
    assert client.chat(user("a")).cached  # a hit takes no rate-limit room
    with pytest.raises(RateLimitError, match="fake/router-model=1rpm"):
        client.chat(user("b"))


def test_on_redis_a_shrinking_correction_costs_no_round_trip_of_its_own(
    limited: Build, request: pytest.FixtureRequest
) -> None:
    # The correction (estimate 86 tokens, real 4) waits for the next call's reserve: one
    # script per call, not two. The limit still holds: 5 calls fit only if corrected.
    container = limited("fake/*=100rpm,150tpm", llm_rate_window=30, llm_timeout=0.2)
    store = container.state().store
    if not store.defers_corrections:
        pytest.skip("the memory store corrects inline, at no round-trip cost")
    server: RedisServer = request.getfixturevalue("redis_server")
    import redis

    spy = redis.Redis.from_url(server.url)

    def scripts_run() -> int:
        stats = spy.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))

    client = container.chat_client()
    before = scripts_run()
    for _ in range(5):
        client.chat(user("one two"), max_tokens=80)
    assert scripts_run() - before == 5
    assert len(container.fake.adapter().calls) == 5
    spy.close()
