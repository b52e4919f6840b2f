"""RetryingAdapter: which errors are retried, how long it waits, deadlines, streams, logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    ContentFilterError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability import RetryingAdapter, RetryPolicy
from persona_llm.testing.clock import FakeClock
from persona_llm.types import Capabilities, ChatMessage, ChatRequest

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))
KEY = "sk-proj-SECRETSECRETSECRET1234"


def unavailable(status: int = 503, retry_after: float | None = None) -> ProviderUnavailableError:
    return ProviderUnavailableError(
        "busy", provider="p", model="m", status_code=status, retry_after=retry_after
    )


RETRYABLE = [
    RateLimitError("slow down", provider="p", status_code=429),
    unavailable(500),
    unavailable(529),
    ProviderUnavailableError("conflict", provider="p", status_code=409, retryable=True),
    LLMTimeoutError("no reply within 1 s", provider="p"),
    LLMTimeoutError("request timeout", provider="p", status_code=408),
    APIConnectionError("connection dropped", provider="p"),
]
NOT_RETRYABLE = [
    InvalidRequestError("bad", provider="p", status_code=400),
    AuthenticationError("bad key", provider="p", status_code=401),
    PermissionDeniedError("denied", provider="p", status_code=403),
    NotFoundError("no model", provider="p", status_code=404),
    ContentFilterError("blocked", provider="p", status_code=400),
]


@pytest.mark.parametrize("error", RETRYABLE, ids=lambda e: f"{type(e).__name__}-{e.status_code}")
def test_retryable_errors_are_retried_until_success(
    error: LLMError, named_fake: Any, clock: FakeClock
) -> None:
    fake = named_fake("p", error, error, "finally")
    adapter = RetryingAdapter(fake, clock.policy(max_retries=2))
    assert adapter.chat("m", HELLO).content == "finally"
    assert len(fake.calls) == 3 and len(clock.sleeps) == 2


@pytest.mark.parametrize("error", NOT_RETRYABLE, ids=lambda e: type(e).__name__)
def test_other_errors_are_raised_at_once(
    error: LLMError, named_fake: Any, clock: FakeClock
) -> None:
    fake = named_fake("p", error, "never reached")
    with pytest.raises(type(error)) as caught:
        RetryingAdapter(fake, clock.policy(max_retries=5)).chat("m", HELLO)
    assert caught.value is error
    assert len(fake.calls) == 1 and clock.sleeps == []


def test_beyond_the_budget_the_last_error_is_raised(named_fake: Any, clock: FakeClock) -> None:
    errors = [unavailable(500 + i) for i in range(4)]
    fake = named_fake("p", *errors)
    with pytest.raises(ProviderUnavailableError) as caught:
        RetryingAdapter(fake, clock.policy(max_retries=3)).chat("m", HELLO)
    assert caught.value is errors[-1]
    assert len(fake.calls) == 4  # 1 + max_retries


def test_backoff_is_exponential_with_full_jitter(named_fake: Any, clock: FakeClock) -> None:
    windows: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        windows.append((low, high))
        return high / 2

    fake = named_fake("p", *[unavailable()] * 5, "ok")
    policy = clock.policy(max_retries=5, initial_wait=0.5, max_wait=3.0, uniform=uniform)
    RetryingAdapter(fake, policy).chat("m", HELLO)
    assert windows == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 3.0), (0, 3.0)]  # capped at max_wait
    assert clock.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_retry_after_sets_the_wait_capped_by_max_wait(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake(
        "p",
        RateLimitError("slow down", provider="p", retry_after=2.0),
        unavailable(retry_after=0.25),  # a 503 with Retry-After is honoured too
        RateLimitError("slow down", provider="p", retry_after=600.0),
        "ok",
    )
    RetryingAdapter(fake, clock.policy(max_retries=3, max_wait=30.0)).chat("m", HELLO)
    assert clock.sleeps == [2.0, 0.25, 30.0]


def test_no_wait_runs_past_the_deadline(named_fake: Any, clock: FakeClock) -> None:
    hint = RateLimitError("slow down", provider="p", retry_after=2.0)
    fake = named_fake("p", hint, hint, hint, "too late")
    policy = clock.policy(max_retries=5, deadline=3.0)
    with pytest.raises(RateLimitError):
        RetryingAdapter(fake, policy).chat("m", HELLO)
    assert clock.sleeps == [2.0]  # a second 2 s wait would end after the 3 s deadline
    assert len(fake.calls) == 2


def test_zero_retries_means_one_attempt(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("p", unavailable(), "ok")
    with pytest.raises(ProviderUnavailableError):
        RetryingAdapter(fake, clock.policy(max_retries=0)).chat("m", HELLO)
    assert len(fake.calls) == 1


def test_each_retry_logs_one_warning_with_context_and_no_key(
    named_fake: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    leaky = RateLimitError(f"key {KEY} over quota", provider="p", secrets=[KEY], retry_after=1)
    fake = named_fake("p", leaky, unavailable(), "ok")
    with caplog.at_level(logging.DEBUG, logger="persona_llm.reliability"):
        RetryingAdapter(fake, clock.policy(max_retries=2, uniform=lambda a, b: b)).chat(
            "gpt-x", HELLO
        )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    first = warnings[0]
    assert "p/gpt-x" in first.getMessage() and "attempt 1 of 3" in first.getMessage()
    assert "RateLimitError" in first.getMessage() and "1.00 s" in first.getMessage()
    assert (first.llm_provider, first.llm_model, first.llm_attempt, first.llm_wait) == (  # type: ignore[attr-defined]
        "p",
        "gpt-x",
        1,
        1.0,
    )
    assert KEY not in caplog.text


async def test_asyncio_calls_are_retried_with_the_async_sleep(
    named_fake: Any, clock: FakeClock
) -> None:
    fake = named_fake("p", unavailable(), RateLimitError("x", provider="p", retry_after=4), "ok")
    adapter = RetryingAdapter(fake, clock.policy(max_retries=2, uniform=lambda a, b: 0.1))
    assert (await adapter.achat("m", HELLO)).content == "ok"
    assert clock.sleeps == [0.1, 4]


def test_embeddings_are_retried_as_one_call(clock: FakeClock) -> None:
    class Flaky(ProviderAdapter):
        name = "p"
        capabilities = Capabilities(embeddings=True)
        calls = 0

        def embeddings(self, model: str, texts: Any, options: dict[str, Any]) -> Any:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise unavailable()
            return [[1.0] for _ in texts]

    adapter = RetryingAdapter(Flaky(), clock.policy())
    assert adapter.embeddings("e", ["a", "b"], {}) == [[1.0], [1.0]]
    assert Flaky.calls == 2


# -- streams ---------------------------------------------------------------------------------


def test_a_stream_is_retried_until_its_first_chunk(scripted_stream: Any, clock: FakeClock) -> None:
    source = scripted_stream(
        [unavailable()], [APIConnectionError("dropped", provider="p")], ["a", "b"]
    )
    adapter = RetryingAdapter(source, clock.policy(max_retries=2))
    chunks = list(adapter.stream("m", HELLO))
    assert [c.delta for c in chunks] == ["a", "b", ""] and chunks[-1].finish_reason == "stop"
    assert source.opened == 3


def test_after_the_first_chunk_a_stream_error_reaches_the_caller(
    scripted_stream: Any, clock: FakeClock
) -> None:
    source = scripted_stream(["a", unavailable()], ["never"])
    seen: list[str] = []
    with pytest.raises(ProviderUnavailableError):
        for chunk in RetryingAdapter(source, clock.policy(max_retries=2)).stream("m", HELLO):
            seen.append(chunk.delta)
    assert seen == ["a"] and source.opened == 1


def test_a_stream_failing_when_opened_is_retried_too(named_fake: Any, clock: FakeClock) -> None:
    fake = named_fake("p", unavailable(), "one two")  # the fake fails in stream() itself
    chunks = list(RetryingAdapter(fake, clock.policy()).stream("m", HELLO))
    assert "".join(c.delta for c in chunks) == "one two"


def test_a_rejected_stream_request_raises_when_the_stream_is_made(clock: FakeClock) -> None:
    fake_error = InvalidRequestError("no", provider="p")

    class Rejecting(ProviderAdapter):
        def stream(self, model: str, request: ChatRequest) -> Any:
            raise fake_error

    with pytest.raises(InvalidRequestError):
        RetryingAdapter(Rejecting(), clock.policy()).stream("m", HELLO)


def test_closing_a_retried_stream_early_closes_the_inner_one(
    scripted_stream: Any, clock: FakeClock
) -> None:
    source = scripted_stream(["a", "b", "c"])
    inner: list[Any] = []
    original = source.stream

    def recording(model: str, request: ChatRequest) -> Any:
        inner.append(original(model, request))
        return inner[-1]

    source.stream = recording
    stream = RetryingAdapter(source, clock.policy()).stream("m", HELLO)
    assert next(stream).delta == "a"
    stream.close()  # type: ignore[attr-defined]
    assert inner[0].gi_frame is None  # the inner generator was closed


async def test_async_streams_are_retried_until_their_first_chunk(
    scripted_stream: Any, clock: FakeClock
) -> None:
    source = scripted_stream([unavailable()], ["x", "y"])
    stream = RetryingAdapter(source, clock.policy()).astream("m", HELLO)
    assert [c.delta async for c in stream] == ["x", "y", ""]
    assert source.opened == 2


# -- the wrapper's face ----------------------------------------------------------------------


def test_the_wrapper_shows_the_wrapped_adapter(named_fake: Any) -> None:
    fake = named_fake("anthropic")
    adapter = RetryingAdapter(fake, RetryPolicy(max_retries=4))
    assert adapter.name == "anthropic"
    assert adapter.capabilities == fake.capabilities
    assert repr(adapter) == f"RetryingAdapter({fake!r}, max_retries=4)"


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=0)
