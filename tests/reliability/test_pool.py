"""PoolAdapter: round-robin and weighted spreading, failover inside the pool, the breaker."""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from persona_llm.errors import InvalidRequestError, ProviderUnavailableError
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability import CircuitBreaker, PoolAdapter, Target
from persona_llm.testing.clock import FakeClock
from persona_llm.types import ChatMessage, ChatRequest

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))


def down(provider: str) -> ProviderUnavailableError:
    return ProviderUnavailableError("down", provider=provider, model="m", status_code=503)


def answered(pool: PoolAdapter, calls: int) -> list[str]:
    return [pool.chat("m", HELLO).model for _ in range(calls)]


def test_round_robin_takes_turns(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("azure")
    pool = PoolAdapter([Target(fake, "eu"), Target(fake, "us")], policy=clock.policy())
    models = answered(pool, 100)
    assert models[:4] == ["eu", "us", "eu", "us"]
    assert Counter(models) == {"eu": 50, "us": 50}


def test_weights_give_turns_per_cycle_spread_out(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("azure")
    pool = PoolAdapter([Target(fake, "a", weight=2), Target(fake, "b")], policy=clock.policy())
    models = answered(pool, 300)
    assert models[:6] == ["a", "b", "a", "a", "b", "a"]
    assert Counter(models) == {"a": 200, "b": 100}


def test_random_strategy_follows_the_weights(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("azure")
    pool = PoolAdapter(
        [Target(fake, "a", weight=3), Target(fake, "b")],
        strategy="random",
        policy=clock.policy(),
        rng=random.Random(7),
    )
    counts = Counter(answered(pool, 400))
    assert 270 <= counts["a"] <= 330 and counts["a"] + counts["b"] == 400


def test_a_failing_member_hands_the_call_to_the_next(named_fake: Any, clock: FakeClock) -> None:
    broken, healthy = named_fake("azure", down("azure")), named_fake("openai")
    pool = PoolAdapter([Target(broken, "eu"), Target(healthy, "gpt")], policy=clock.policy())
    reply = pool.chat("m", HELLO)
    assert (reply.provider, reply.model) == ("openai", "gpt")


def test_a_broken_member_leaves_rotation_and_returns_after_the_cooldown(
    named_fake: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    state = {"broken": True}
    broken = FakeProvider(lambda messages: down("azure") if state["broken"] else "recovered")
    broken.name = "azure"
    healthy = named_fake("openai")
    pool = PoolAdapter(
        [Target(broken, "eu"), Target(healthy, "gpt")],
        circuit_failures=3,
        circuit_cooldown=30,
        policy=clock.policy(),
    )
    with caplog.at_level(logging.INFO, logger="persona_llm.reliability"):
        assert all(m == "gpt" for m in answered(pool, 6))  # every call still answered
        assert len(broken.calls) == 3 and [t.model for t in pool.in_rotation()] == ["gpt"]
        answered(pool, 10)
        assert len(broken.calls) == 3  # out of rotation: not called at all
        clock.advance(30)
        state["broken"] = False
        assert [t.model for t in pool.in_rotation()] == ["eu", "gpt"]
        assert Counter(answered(pool, 4)) == {"eu": 2, "gpt": 2}
    messages = [r.getMessage() for r in caplog.records]
    assert any("azure/eu failed 3 times in a row: out of rotation for 30 s" in m for m in messages)
    assert any("azure/eu answered again: back in rotation" in m for m in messages)


def test_one_failure_after_the_cooldown_takes_it_out_again(
    named_fake: Any, clock: FakeClock
) -> None:
    broken = named_fake("azure", *[down("azure")] * 10)
    pool = PoolAdapter(
        [Target(broken, "eu"), Target(named_fake("openai"), "gpt")],
        circuit_failures=2,
        circuit_cooldown=5,
        policy=clock.policy(),
    )
    answered(pool, 4)
    assert len(broken.calls) == 2
    clock.advance(5)
    answered(pool, 4)
    assert len(broken.calls) == 3


def test_request_errors_do_not_count_against_a_member(named_fake: Any, clock: FakeClock) -> None:
    bad = [InvalidRequestError("bad", provider="azure")] * 3
    member = named_fake("azure", *bad, "ok")
    pool = PoolAdapter([Target(member, "eu")], circuit_failures=1, policy=clock.policy())
    for _ in range(3):
        with pytest.raises(InvalidRequestError):
            pool.chat("m", HELLO)
    assert pool.in_rotation() and pool.chat("m", HELLO).content == "ok"


def test_with_every_member_out_a_call_fails_fast_and_retryable(
    named_fake: Any, clock: FakeClock
) -> None:
    a, b = named_fake("azure", down("azure")), named_fake("openai", down("openai"))
    pool = PoolAdapter(
        [Target(a, "eu"), Target(b, "gpt")],
        circuit_failures=1,
        circuit_cooldown=9,
        policy=clock.policy(),
    )
    with pytest.raises(ProviderUnavailableError):
        pool.chat("m", HELLO)
    with pytest.raises(ProviderUnavailableError, match="out of rotation") as caught:
        pool.chat("m", HELLO)
    assert caught.value.retryable and "returns in 9.0 s" in str(caught.value)
    assert len(a.calls) == len(b.calls) == 1


def test_round_robin_is_exact_from_32_threads(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("azure")
    pool = PoolAdapter([Target(fake, "eu"), Target(fake, "us")], policy=clock.policy())
    barrier = threading.Barrier(32)

    def calls(_: int) -> list[str]:
        barrier.wait()
        return answered(pool, 50)

    with ThreadPoolExecutor(32) as executor:
        models = [m for batch in executor.map(calls, range(32)) for m in batch]
    assert Counter(models) == {"eu": 800, "us": 800}


def test_breaker_counts_consecutive_failures_only(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=2, cooldown=1, clock=clock)
    assert not breaker.failed() and not breaker.succeeded()
    assert not breaker.failed() and breaker.failed()  # two in a row
    assert not breaker.available()
    clock.advance(1)
    assert breaker.available() and breaker.succeeded()  # it was open: back


def test_a_zero_threshold_never_opens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=0, cooldown=1, clock=clock)
    assert not any(breaker.failed() for _ in range(100)) and breaker.available()


def test_bad_pool_settings_are_rejected(named_fake: Any) -> None:
    with pytest.raises(ValueError, match="strategy"):
        PoolAdapter([Target(named_fake("a"))], strategy="fastest")
    with pytest.raises(ValueError, match="weight"):
        PoolAdapter([Target(named_fake("a"), weight=0)])


async def test_asyncio_calls_take_turns_and_fail_over(named_fake: Any, clock: FakeClock) -> None:
    flaky, healthy = named_fake("azure", down("azure"), "ok"), named_fake("openai")
    pool = PoolAdapter([Target(flaky, "eu"), Target(healthy, "gpt")], policy=clock.policy())
    replies = [await pool.achat("m", HELLO) for _ in range(3)]
    assert [r.model for r in replies] == ["gpt", "gpt", "eu"]  # eu failed over, then turns
