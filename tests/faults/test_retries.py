"""Retries through the real SDKs: what is retried, how often, how long, counted at the server."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fault_helpers import PROVIDERS, cut_stream, error_fault

from persona_llm.containers import Container
from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    LLMTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.testing import wire
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply

HELLO = [{"role": "user", "content": "hello"}]
Stack = Callable[..., Container]
every_provider = pytest.mark.parametrize("provider", PROVIDERS)


@every_provider
def test_429_with_retry_after_then_success(
    provider: str, stack: Stack, emu: ProviderEmulator, clock: FakeClock
) -> None:
    emu.enqueue(provider, error_fault(provider, 429, "slow down", headers={"Retry-After": "3"}))
    reply = stack(provider).chat_client().chat(HELLO)
    assert reply.content == "echo: hello"
    assert clock.sleeps == [3.0]  # the provider's hint, not the backoff
    assert len(emu.requests_for(provider)) == 2


@every_provider
def test_retry_after_ms_wins_and_is_capped(
    provider: str, stack: Stack, emu: ProviderEmulator, clock: FakeClock
) -> None:
    emu.enqueue(
        provider,
        error_fault(provider, 429, "slow", headers={"retry-after-ms": "250", "Retry-After": "9"}),
        error_fault(provider, 503, "busy", headers={"Retry-After": "120"}),
    )
    stack(provider, llm_retry_max_wait=20).chat_client().chat(HELLO)
    assert clock.sleeps == [0.25, 20.0]


@every_provider
def test_503_twice_then_success(
    provider: str, stack: Stack, emu: ProviderEmulator, clock: FakeClock
) -> None:
    emu.enqueue(provider, error_fault(provider, 503, "busy"), error_fault(provider, 503, "busy"))
    reply = stack(provider, llm_max_retries=2).chat_client().chat(HELLO)
    assert reply.content == "echo: hello"
    assert len(emu.requests_for(provider)) == 3 and len(clock.sleeps) == 2


@every_provider
@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_500_beyond_the_budget_after_exactly_1_plus_max_retries_attempts(
    provider: str, max_retries: int, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, *[error_fault(provider, 500, "boom")] * (max_retries + 3))
    client = stack(provider, llm_max_retries=max_retries).chat_client()
    with pytest.raises(ProviderUnavailableError) as caught:
        client.chat(HELLO)
    assert caught.value.provider == provider and caught.value.status_code == 500
    assert emu.request_count == 1 + max_retries


@every_provider
def test_401_is_not_retried(provider: str, stack: Stack, emu: ProviderEmulator) -> None:
    if provider == "gemini":  # Gemini says "invalid key" with a 400
        body = wire.gemini_error(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID")
        emu.enqueue(provider, Reply(body, status=400))
    else:
        emu.enqueue(provider, error_fault(provider, 401, "invalid key"))
    with pytest.raises(AuthenticationError):
        stack(provider, llm_max_retries=3).chat_client().chat(HELLO)
    assert emu.request_count == 1


@every_provider
def test_a_timeout_is_raised_within_the_configured_bound(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    slow = Reply(wire.openai_chat("late"), delay=1.0)
    emu.enqueue(provider, slow, slow)
    client = stack(provider, llm_timeout=0.2, llm_max_retries=1).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as caught:
        client.chat(HELLO)
    elapsed = time.monotonic() - started
    assert caught.value.provider == provider and caught.value.retryable
    assert emu.request_count == 2
    assert elapsed < 2.0  # 2 attempts of 0.2 s each, with generous slack


@every_provider
@pytest.mark.parametrize("drop", ["before", "mid_body"])
def test_a_dropped_connection_is_retried(
    provider: str, drop: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Fault(200, b'{"id": "cut', drop_connection=drop))
    reply = stack(provider).chat_client().chat(HELLO)
    assert reply.content == "echo: hello" and emu.request_count == 2


@every_provider
def test_a_dropped_connection_beyond_the_budget_is_a_connection_error(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, *[Fault(200, b"{", drop_connection="mid_body")] * 2)
    with pytest.raises((APIConnectionError, ProviderUnavailableError)) as caught:
        stack(provider, llm_max_retries=1).chat_client().chat(HELLO)
    assert caught.value.provider == provider and caught.value.retryable
    assert emu.request_count == 2


PROXY_PAGE = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1>nginx</body></html>"


@every_provider
def test_an_html_502_from_a_proxy_is_retried_then_reported_clearly(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    page = Fault(502, PROXY_PAGE, content_type="text/html")
    emu.enqueue(provider, page, page, page)
    with pytest.raises(ProviderUnavailableError) as caught:
        stack(provider, llm_max_retries=2).chat_client().chat(HELLO)
    assert "HTML page" in str(caught.value) and "<h1>" not in str(caught.value)
    assert caught.value.status_code == 502 and emu.request_count == 3


def test_the_deadline_bounds_all_attempts(
    stack: Stack, emu: ProviderEmulator, clock: FakeClock
) -> None:
    emu.enqueue("openai", *[error_fault("openai", 429, "slow", headers={"Retry-After": "3"})] * 6)
    client = stack("openai", llm_max_retries=5, llm_deadline=5).chat_client()
    with pytest.raises(RateLimitError):
        client.chat(HELLO)
    assert clock.sleeps == [3.0]  # another 3 s wait would end past the 5 s deadline
    assert emu.request_count == 2


async def test_asyncio_calls_are_retried(stack: Stack, emu: ProviderEmulator) -> None:
    emu.enqueue("anthropic", error_fault("anthropic", 529, "overloaded"))
    container = stack("anthropic")
    reply = await container.async_chat_client().chat(HELLO)
    assert reply.content == "echo: hello" and emu.request_count == 2
    await container.chat_adapter().aclose()


# -- streams ---------------------------------------------------------------------------------


@every_provider
def test_a_stream_is_retried_before_its_first_chunk(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, error_fault(provider, 503, "busy"))
    chunks = list(stack(provider).chat_client().stream(HELLO))
    assert "".join(c.delta for c in chunks) == "echo: hello"
    assert chunks[-1].finish_reason == "stop" and emu.request_count == 2


@every_provider
def test_a_stream_cut_after_its_first_chunk_is_not_retried(
    provider: str, stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, cut_stream(provider))
    seen: list[str] = []
    with pytest.raises((APIConnectionError, ProviderUnavailableError)) as caught:
        for chunk in stack(provider, llm_max_retries=3).chat_client().stream(HELLO):
            seen.append(chunk.delta)
    assert "".join(seen) and caught.value.provider == provider
    assert emu.request_count == 1  # part of the reply was shown: no second request
