"""The providers' rate-limit headers tighten our limits: "0 left until the reset" holds
every worker's calls of that target until then, without a request reaching the provider.

Through the real SDKs on the emulator, on both stores. The target is limited generously
(``1000rpm``), so only what the provider's headers say can hold a call. The scripted
limits are tiny (1 request until the reset) so that the reset is when room comes back;
`test_the_hold_refills_as_the_provider_does` shows the refill of a larger limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from state_helpers import timed

from persona_llm.containers import Container
from persona_llm.errors import RateLimitError
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply
from persona_llm.testing.redis_server import RedisServer

HELLO = [{"role": "user", "content": "hello"}]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6"}


def zero_left(provider: str, reset: float = 2.0) -> Reply:
    """A successful reply whose headers say the one request per `reset` seconds is used."""
    if provider == "openai":
        headers = wire.openai_rate_headers(
            limit_requests=1, remaining_requests=0, reset_requests=reset
        )
        return Reply(wire.openai_chat("ok"), headers=headers)
    headers = wire.anthropic_rate_headers(
        remaining_requests=0, reset_in=reset, limits=(1, 40_000, 30_000, 8_000)
    )
    return Reply(wire.anthropic_message("ok"), headers=headers)


Worker = Callable[..., Container]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, prefix: str) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"llm_state": server.url, "llm_state_prefix": prefix}


@pytest.fixture
def worker(
    emu: ProviderEmulator, backend: dict[str, Any], own_containers: Callable[..., Container]
) -> Worker:
    """``worker(provider, **settings)``: a container of its own (one worker), sharing the
    store when it is Redis."""

    def make(provider: str = "openai", **settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": f"{provider}/{MODELS[provider]}",
            "llm_rate_limits": f"{provider}/*=1000rpm",
            "llm_max_retries": 0,
            "llm_timeout": 0.5,
            "openai_api_key": "sk-test-holds-0123456789",
            "openai_base_url": emu.openai_base_url,
            "anthropic_api_key": "sk-ant-test-holds-0123456789",
            "anthropic_base_url": emu.anthropic_base_url,
            **backend,
        }
        return own_containers(**(values | settings))

    return make


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_zero_requests_left_holds_the_next_call_without_sending_it(
    provider: str, worker: Worker, emu: ProviderEmulator
) -> None:
    client = worker(provider).chat_client()
    emu.enqueue(provider, zero_left(provider, reset=2))
    assert client.chat(HELLO).content == "ok"
    took, result = timed(lambda: client.chat(HELLO))
    assert isinstance(result, RateLimitError), result
    assert took < 0.3  # the reset is 2 s away, the deadline 0.5 s: no point waiting
    assert result.local and result.status_code is None and result.retryable
    assert 1.0 < (result.retry_after or 0) <= 3.0
    assert f"{provider}'s own requests limit" in result.message
    assert "rate-limit headers leave 0" in result.message
    assert "requests now, this call needs 1" in result.message
    assert len(emu.requests) == 1  # the held call never reached the provider


def test_a_held_call_waits_for_the_reset_within_its_deadline(
    worker: Worker, emu: ProviderEmulator
) -> None:
    client = worker(llm_timeout=5).chat_client()
    emu.enqueue("openai", zero_left("openai", reset=1))
    client.chat(HELLO)
    took, result = timed(lambda: client.chat(HELLO))
    assert not isinstance(result, Exception), result
    assert 0.8 < took < 2.0
    assert len(emu.requests) == 2


def test_another_worker_is_held_too_on_redis(
    worker: Worker, emu: ProviderEmulator, backend: dict[str, Any]
) -> None:
    first, second = worker(), worker()
    emu.enqueue("openai", zero_left("openai", reset=2))
    first.chat_client().chat(HELLO)
    outcome: list[object] = []
    other = threading.Thread(
        target=lambda: outcome.append(timed(lambda: second.chat_client().chat(HELLO))[1])
    )
    other.start()
    other.join()
    if backend:  # Redis: the second worker sees the hold the first one set
        assert isinstance(outcome[0], RateLimitError) and outcome[0].local
        assert len(emu.requests) == 1
    else:  # each process has its own memory store: the other worker learns by itself
        assert not isinstance(outcome[0], Exception)
        assert len(emu.requests) == 2


async def test_asyncio_calls_are_held_too(worker: Worker, emu: ProviderEmulator) -> None:
    client = worker().async_chat_client()
    emu.enqueue("openai", zero_left("openai", reset=2))
    await client.chat(HELLO)
    with pytest.raises(RateLimitError, match="own requests limit"):
        await client.chat(HELLO)
    assert len(emu.requests) == 1


def test_a_stream_says_it_as_it_starts(worker: Worker, emu: ProviderEmulator) -> None:
    client = worker().chat_client()
    stream = wire.openai_chunks(["o", "k"], usage=wire.openai_usage(5, 2))
    headers = wire.openai_rate_headers(limit_requests=1, remaining_requests=0, reset_requests=2)
    emu.enqueue("openai", type(stream)(stream.events, done=True, headers=headers))
    chunks = client.stream(HELLO)
    assert next(chunks).delta == "o"
    # The hold is set with the first chunk, while the stream is still being read.
    with pytest.raises(RateLimitError, match="own requests limit"):
        client.chat(HELLO)
    assert "".join(c.delta for c in chunks) == "k"
    assert len(emu.requests) == 1


def test_too_few_tokens_left_holds_a_call_that_needs_more(
    worker: Worker, emu: ProviderEmulator
) -> None:
    client = worker().chat_client()
    headers = wire.openai_rate_headers(
        limit_tokens=600, remaining_tokens=300, reset_tokens="2s"
    )  # refills 150 tokens a second
    emu.enqueue("openai", Reply(wire.openai_chat("ok"), headers=headers))
    client.chat(HELLO, max_tokens=500)  # reserved ~506 tokens: 300 left is less
    client.chat(HELLO, max_tokens=100)  # needs ~106 of the 300: goes, ~194 left
    with pytest.raises(RateLimitError) as caught:
        client.chat(HELLO, max_tokens=500)
    assert "own tokens limit" in caught.value.message
    assert len(emu.requests) == 2


def test_the_hold_refills_as_the_provider_does(worker: Worker, emu: ProviderEmulator) -> None:
    # 0 of 100 requests left, full again in 50 s: one request comes back every 0.5 s, so
    # the next call waits about that long, not 50 s.
    client = worker(llm_timeout=5).chat_client()
    headers = wire.openai_rate_headers(
        limit_requests=100, remaining_requests=0, reset_requests="50s"
    )
    emu.enqueue("openai", Reply(wire.openai_chat("ok"), headers=headers))
    client.chat(HELLO)
    took, result = timed(lambda: client.chat(HELLO))
    assert not isinstance(result, Exception), result
    assert 0.3 < took < 1.5
    assert len(emu.requests) == 2


def test_a_429_with_retry_after_holds_the_target(worker: Worker, emu: ProviderEmulator) -> None:
    client = worker().chat_client()
    body = wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded")
    emu.enqueue("openai", Fault(429, body, headers={"retry-after": "2"}))
    with pytest.raises(RateLimitError) as provider_429:
        client.chat(HELLO)
    assert provider_429.value.status_code == 429
    with pytest.raises(RateLimitError, match="answered 429 with retry-after") as ours:
        client.chat(HELLO)
    assert ours.value.local
    assert len(emu.requests) == 1


def test_headers_are_ignored_for_targets_without_limits(
    worker: Worker, emu: ProviderEmulator
) -> None:
    client = worker(llm_rate_limits="anthropic/*=10rpm").chat_client()
    emu.enqueue("openai", zero_left("openai", reset=2))
    client.chat(HELLO)
    client.chat(HELLO)
    assert len(emu.requests) == 2


def test_plenty_left_or_unreadable_headers_hold_nothing(
    worker: Worker, emu: ProviderEmulator
) -> None:
    client = worker().chat_client()
    emu.enqueue(
        "openai",
        Reply(wire.openai_chat("ok"), headers=wire.openai_rate_headers()),
        Reply(
            wire.openai_chat("ok"),
            headers={"x-ratelimit-remaining-requests": "zero", "x-ratelimit-reset-requests": "2s"},
        ),
        Reply(
            wire.openai_chat("ok"),
            headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "soon"},
        ),
    )
    for _ in range(4):
        client.chat(HELLO)
    assert len(emu.requests) == 4


@pytest.mark.parametrize("mode", ["blocking", "asyncio"])
async def test_an_embeddings_reply_holds_the_target_too(
    mode: str, worker: Worker, emu: ProviderEmulator
) -> None:
    # The SDK's usual embeddings call hides the reply's headers: a limited call reads them.
    app = worker(embedding_service="openai/text-embedding-3-small")
    headers = wire.openai_rate_headers(limit_requests=1, remaining_requests=0, reset_requests=2)
    emu.enqueue(
        "openai", Reply(wire.openai_embeddings([[0.1, 0.2]], prompt_tokens=3), headers=headers)
    )
    if mode == "blocking":
        client = app.embedding_client()
        assert client.embeddings(["one"])[0] == pytest.approx([0.1, 0.2])
        with pytest.raises(RateLimitError, match="own requests limit") as caught:
            client.embeddings(["two"])
    else:
        aclient = app.async_embedding_client()
        assert (await aclient.embeddings(["one"]))[0] == pytest.approx([0.1, 0.2])
        with pytest.raises(RateLimitError, match="own requests limit") as caught:
            await aclient.embeddings(["two"])
    assert caught.value.local
    assert len(emu.requests) == 1
