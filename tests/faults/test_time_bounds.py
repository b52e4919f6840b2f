"""Time bounds that hold: a whole attempt, a stream's first chunk and gaps, the deadline.

Through the real SDKs against the emulator, with real clocks: a body that trickles in a byte
at a time never trips a read timeout, so only a bound on the whole attempt stops it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from fault_helpers import MODELS, PROVIDERS, provider_settings

from persona_llm.containers import Container
from persona_llm.errors import LLMTimeoutError
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, Reply, SSEReply

HELLO = [{"role": "user", "content": "hello"}]
every_provider = pytest.mark.parametrize("provider", PROVIDERS)
TRICKLE = 0.02  # seconds per byte: a reply of a few hundred bytes takes many seconds


@pytest.fixture
def build(emu: ProviderEmulator, container_with: Callable[..., Container]) -> Callable[..., Any]:
    """``build(provider, **settings)``: a container on the emulator, real clock, no retries."""

    def make(provider: str, **settings: Any) -> Container:
        values: dict[str, Any] = {
            "llm_service": f"{provider}/{MODELS[provider]}",
            "embedding_service": "fake/x",
            "llm_max_retries": 0,
            **provider_settings(emu, provider),
        }
        return container_with(**(values | settings))

    return make


def reply_body(provider: str) -> dict[str, Any]:
    if provider == "anthropic":
        return wire.anthropic_message("a reply that drips in")
    if provider == "gemini":
        return wire.gemini_response("a reply that drips in")
    return wire.openai_chat("a reply that drips in")


def stream_of(provider: str, pieces: list[str], **fields: Any) -> SSEReply:
    if provider == "anthropic":
        reply = wire.anthropic_events(pieces)
    elif provider == "gemini":
        reply = wire.gemini_events(pieces)
    else:
        reply = wire.openai_chunks(pieces, azure=provider == "azure")
    return SSEReply(
        reply.events,
        separator=reply.separator,
        done=reply.done,
        event_names=reply.event_names,
        **fields,
    )


# -- a request ------------------------------------------------------------------------------


@every_provider
def test_a_trickling_reply_is_cut_at_llm_timeout(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Reply(reply_body(provider), trickle=TRICKLE))
    client = build(provider, llm_timeout=0.5).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="LLM_TIMEOUT") as caught:
        client.chat(HELLO)
    assert 0.45 <= time.monotonic() - started < 2.0  # untimed, the reply takes 8 s or more
    assert caught.value.provider == provider and caught.value.retryable


@every_provider
def test_an_asyncio_trickling_reply_is_cut_at_llm_timeout(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Reply(reply_body(provider), trickle=TRICKLE))
    client = build(provider, llm_timeout=0.5).async_chat_client()

    async def main() -> float:
        started = time.monotonic()
        try:
            with pytest.raises(LLMTimeoutError, match="LLM_TIMEOUT"):
                await client.chat(HELLO)
            return time.monotonic() - started
        finally:
            await client.adapter.aclose()

    assert 0.45 <= asyncio.run(main()) < 2.0


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_the_deadline_interrupts_a_running_attempt(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, Reply(reply_body(provider), trickle=TRICKLE))
    client = build(provider, llm_timeout=10.0, llm_deadline=1.0).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="LLM_DEADLINE"):
        client.chat(HELLO)
    assert time.monotonic() - started < 2.0


def test_the_deadline_interrupts_a_running_asyncio_attempt(
    build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", Reply(reply_body("anthropic"), trickle=TRICKLE))
    client = build("anthropic", llm_timeout=10.0, llm_deadline=1.0).async_chat_client()

    async def main() -> float:
        started = time.monotonic()
        try:
            with pytest.raises(LLMTimeoutError, match="LLM_DEADLINE"):
                await client.chat(HELLO)
            return time.monotonic() - started
        finally:
            await client.adapter.aclose()

    assert asyncio.run(main()) < 2.0


def test_worst_case_is_the_deadline_plus_one_timeout_with_retries(
    build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    slow = Reply(reply_body("openai"), trickle=TRICKLE)
    emu.enqueue("openai", slow, slow, slow)
    client = build("openai", llm_timeout=0.6, llm_deadline=1.0, llm_max_retries=5).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        client.chat(HELLO)
    assert time.monotonic() - started < 1.0 + 0.6 + 0.5


def test_a_reply_that_arrives_in_time_is_untouched(
    build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", Reply(wire.openai_chat("quick"), delay=0.3))
    client = build("openai", llm_timeout=3.0).chat_client()
    assert client.chat(HELLO).content == "quick"
    time.sleep(0.2)  # the watchdog has looked at the finished attempt
    assert client.chat(HELLO).content == "echo: hello"  # on the same pooled connection


# -- a stream -------------------------------------------------------------------------------


@every_provider
def test_a_stream_slow_to_start_is_cut_at_the_first_chunk_timeout(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, stream_of(provider, ["a", "b"], delay=3.0))
    client = build(provider, llm_stream_first_chunk_timeout=0.3).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="LLM_STREAM_FIRST_CHUNK_TIMEOUT"):
        list(client.stream(HELLO))
    assert time.monotonic() - started < 1.5


@every_provider
def test_a_stream_that_stalls_is_cut_at_the_idle_timeout(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, stream_of(provider, ["a", "b", "c"], delay=0.6))
    client = build(
        provider, llm_stream_first_chunk_timeout=2.0, llm_stream_idle_timeout=0.2
    ).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="LLM_STREAM_IDLE_TIMEOUT"):
        list(client.stream(HELLO))
    # The first event came after 0.6 s (within the first chunk's 2 s); the next took too long.
    assert 0.75 <= time.monotonic() - started < 2.0


@every_provider
def test_an_asyncio_stream_that_stalls_is_cut_at_the_idle_timeout(
    provider: str, build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue(provider, stream_of(provider, ["a", "b", "c"], delay=0.6))
    client = build(
        provider, llm_stream_first_chunk_timeout=2.0, llm_stream_idle_timeout=0.2
    ).async_chat_client()

    async def main() -> float:
        started = time.monotonic()
        try:
            with pytest.raises(LLMTimeoutError, match="LLM_STREAM_IDLE_TIMEOUT"):
                async for _ in client.stream(HELLO):
                    pass
            return time.monotonic() - started
        finally:
            await client.adapter.aclose()

    assert 0.75 <= asyncio.run(main()) < 2.0


def test_a_trickling_stream_is_cut_at_the_idle_timeout(
    build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue("gemini", stream_of("gemini", ["a", "b"], trickle=TRICKLE))
    client = build("gemini", llm_timeout=10.0, llm_stream_first_chunk_timeout=1.0).chat_client()
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="LLM_STREAM_FIRST_CHUNK_TIMEOUT"):
        list(client.stream(HELLO))
    assert time.monotonic() - started < 2.0


def test_the_callers_time_between_chunks_does_not_count(
    build: Callable[..., Container], emu: ProviderEmulator
) -> None:
    emu.enqueue("anthropic", stream_of("anthropic", ["a", "b", "c"]))
    client = build("anthropic", llm_stream_idle_timeout=0.3).chat_client()
    seen: list[str] = []
    for chunk in client.stream(HELLO):
        seen.append(chunk.delta)
        time.sleep(0.5)  # the caller is slow; the server sent everything at once
    assert "".join(seen) == "abc"
