"""The pool's circuit breaker in a shared store: one worker opens it, every worker obeys.

Two containers stand for two workers (they share nothing but the Redis server); the pool is
``openai`` (failing) and ``anthropic`` on the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from state_helpers import breaker_pool

from persona_llm.containers import Container
from persona_llm.testing.emulator import Fault, ProviderEmulator
from persona_llm.testing.redis_server import RedisServer


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def workers(
    emu: ProviderEmulator,
    redis_server: RedisServer,
    prefix: str,
    own_containers: Callable[..., Container],
) -> Callable[..., Container]:
    def worker(**settings: Any) -> Container:
        return own_containers(**(breaker_pool(emu, redis_server.url, prefix) | settings))

    return worker


def test_a_breaker_opened_by_one_worker_keeps_the_others_away(
    emu: ProviderEmulator, workers: Callable[..., Container]
) -> None:
    emu.enqueue("openai", *[Fault(503)] * 20)
    a, b = workers(), workers()
    for _ in range(4):  # round robin: openai fails twice (each time anthropic answers)
        assert a.chat_client().chat(user("hi")).provider == "anthropic"
    failing = len(emu.requests_for("openai"))
    assert failing == 2
    for _ in range(4):
        assert b.chat_client().chat(user("hi")).provider == "anthropic"
    assert len(emu.requests_for("openai")) == failing  # b never touched the failing member


def test_without_a_shared_store_each_worker_learns_on_its_own(
    emu: ProviderEmulator, workers: Callable[..., Container]
) -> None:
    emu.enqueue("openai", *[Fault(503)] * 20)
    a, b = workers(llm_state="memory"), workers(llm_state="memory")
    for _ in range(4):
        a.chat_client().chat(user("hi"))
    failing = len(emu.requests_for("openai"))
    for _ in range(4):
        b.chat_client().chat(user("hi"))
    assert len(emu.requests_for("openai")) == failing + 2


def test_after_the_cooldown_one_probe_closes_the_breaker_for_everyone(
    emu: ProviderEmulator, workers: Callable[..., Container]
) -> None:
    emu.enqueue("openai", Fault(503), Fault(503))
    a, b = workers(llm_circuit_cooldown=0.3), workers(llm_circuit_cooldown=0.3)
    for _ in range(4):
        a.chat_client().chat(user("hi"))
    assert len(emu.requests_for("openai")) == 2
    import time

    time.sleep(0.35)
    answered = [b.chat_client().chat(user("hi")).provider for _ in range(2)]
    assert "openai" in answered  # b's probe went to openai and succeeded
    answered = [a.chat_client().chat(user("hi")).provider for _ in range(4)]
    assert answered.count("openai") == 2  # back in a's rotation too
