"""Fallbacks and load balancing through the real SDKs, counted at the emulator."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fault_helpers import KEYS, error_fault

from persona_llm.containers import Container
from persona_llm.errors import LLMError, ProviderUnavailableError, RateLimitError
from persona_llm.testing.clock import FakeClock
from persona_llm.testing.emulator import Fault, ProviderEmulator, RecordedRequest

HELLO = [{"role": "user", "content": "hello"}]
Stack = Callable[..., Container]


def test_fallback_to_a_second_provider(
    stack: Stack, emu: ProviderEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emu.enqueue("openai", *[error_fault("openai", 503, "busy")] * 3)
    client = stack("openai", "anthropic", llm_fallbacks="anthropic/claude-haiku-4-5").chat_client()
    with caplog.at_level(logging.WARNING, logger="persona_llm.reliability"):
        reply = client.chat(HELLO)
    assert (reply.content, reply.provider) == ("echo: hello", "anthropic")
    assert emu.last_request("anthropic").json["model"] == "claude-haiku-4-5"
    assert len(emu.requests_for("openai")) == 3  # its own retries first
    assert len(emu.requests_for("anthropic")) == 1
    failover = [r.getMessage() for r in caplog.records if "failing over" in r.getMessage()]
    assert failover == [
        "openai/gpt-4o-mini failed (ProviderUnavailableError: [openai/gpt-4o-mini] busy "
        "(HTTP 503)); failing over to anthropic/claude-haiku-4-5"
    ]


def test_an_auth_error_fails_over_without_retrying(stack: Stack, emu: ProviderEmulator) -> None:
    emu.enqueue("openai", error_fault("openai", 401, "Incorrect API key provided"))
    client = stack("openai", "gemini", llm_fallbacks="gemini/").chat_client()
    assert client.chat(HELLO).provider == "gemini"
    assert len(emu.requests_for("openai")) == 1


def test_when_every_provider_fails_each_error_is_carried(
    stack: Stack, emu: ProviderEmulator
) -> None:
    emu.enqueue("openai", error_fault("openai", 429, "quota", headers={"Retry-After": "1"}))
    emu.enqueue("anthropic", error_fault("anthropic", 529, "overloaded"))
    emu.enqueue("gemini", error_fault("gemini", 503, "unavailable"))
    client = stack(
        "openai",
        "anthropic",
        "gemini",
        llm_max_retries=0,
        llm_fallbacks="anthropic/,gemini/",
    ).chat_client()
    with pytest.raises(RateLimitError) as caught:
        client.chat(HELLO)
    failures = caught.value.failures
    assert [(f.provider, f.status_code) for f in failures] == [
        ("openai", 429),
        ("anthropic", 529),
        ("gemini", 503),
    ]
    assert caught.value.retry_after == 1.0
    assert emu.request_count == 3


def test_round_robin_spreads_100_calls_over_two_regions(
    stack: Stack, emu: ProviderEmulator, env: Any
) -> None:
    with (
        ProviderEmulator() as second_region,
        env(
            US_AZURE_API_BASE=second_region.azure_endpoint,
            US_AZURE_API_KEY="fedcba9876543210fedcba9876543210",
        ),
    ):
        client = stack("azure", llm_pool="azure@us/dep-us").chat_client()
        models = Counter(client.chat(HELLO).model for _ in range(100))
        us_requests = second_region.requests_for("azure")
    eu_requests = emu.requests_for("azure")
    assert abs(len(eu_requests) - 50) <= 5 and abs(len(us_requests) - 50) <= 5
    assert len(eu_requests) + len(us_requests) == 100
    assert {r.path for r in us_requests} == {"/openai/deployments/dep-us/chat/completions"}
    assert {r.headers["api-key"] for r in us_requests} == {"fedcba9876543210fedcba9876543210"}
    assert {r.headers["api-key"] for r in eu_requests} == {KEYS["azure"]}
    assert sum(models.values()) == 100


def test_a_broken_member_leaves_rotation_and_returns_after_the_cooldown(
    stack: Stack, emu: ProviderEmulator, clock: FakeClock
) -> None:
    emu.enqueue("azure", *[error_fault("azure", 503, "region down")] * 3)
    container = stack(
        "azure",
        "openai",
        llm_pool="openai/gpt-4o-mini",
        llm_max_retries=0,
        llm_circuit_failures=3,
        llm_circuit_cooldown=60,
    )
    client = container.chat_client()
    providers = [client.chat(HELLO).provider for _ in range(6)]
    assert providers == ["openai"] * 6  # each azure failure was answered by openai
    assert len(emu.requests_for("azure")) == 3
    for _ in range(10):
        client.chat(HELLO)
    assert len(emu.requests_for("azure")) == 3  # out of rotation: never called
    clock.advance(60)
    back = Counter(client.chat(HELLO).provider for _ in range(10))
    assert back == {"azure": 5, "openai": 5}


def test_32_threads_x_20_calls_against_a_flaky_provider(
    stack: Stack, emu: ProviderEmulator
) -> None:
    lock = threading.Lock()
    seen = [0]

    def flaky(request: RecordedRequest) -> Fault | None:
        with lock:
            seen[0] += 1
            fail = seen[0] % 5 == 0  # deterministic 20 % of requests
        return error_fault("openai", 503, "flaky") if fail else None

    emu.enqueue("openai", *[flaky] * 2000)
    client = stack("openai", llm_max_retries=2).chat_client()
    barrier = threading.Barrier(32)

    def worker(thread: int) -> list[tuple[str, str | LLMError]]:
        barrier.wait()
        results: list[tuple[str, str | LLMError]] = []
        for call in range(20):
            prompt = f"thread {thread} call {call}"
            try:
                reply = client.chat([{"role": "user", "content": prompt}])
                results.append((prompt, reply.content))
            except ProviderUnavailableError as error:  # documented: retries used up
                results.append((prompt, error))
        return results

    with ThreadPoolExecutor(32) as executor:
        futures = [executor.submit(worker, thread) for thread in range(32)]
        outcomes = [item for future in futures for item in future.result(timeout=60)]
    assert len(outcomes) == 640
    answers = [(prompt, got) for prompt, got in outcomes if isinstance(got, str)]
    assert all(got == f"echo: {prompt}" for prompt, got in answers)  # never a wrong reply
    errors = [got for _, got in outcomes if not isinstance(got, str)]
    assert all(e.provider == "openai" and e.status_code == 503 for e in errors)
    assert len(answers) >= 600  # three 503s in a row for one call are rare
