"""FallbackAdapter: what fails over, who answers, what is raised when everyone failed."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from persona_llm.errors import (
    AuthenticationError,
    ContentFilterError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
    RateLimitError,
    ResponseParseError,
)
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability import FallbackAdapter, PoolAdapter, RetryingAdapter, Target
from persona_llm.testing.clock import FakeClock
from persona_llm.types import Capabilities, ChatMessage, ChatRequest

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))


def limited(provider: str, retry_after: float | None = None) -> RateLimitError:
    return RateLimitError(
        "slow down", provider=provider, model="m", status_code=429, retry_after=retry_after
    )


def down(provider: str) -> ProviderUnavailableError:
    return ProviderUnavailableError("down", provider=provider, model="m", status_code=503)


FAILS_OVER = [
    limited("openai"),
    down("openai"),
    AuthenticationError("bad key", provider="openai", status_code=401),
    PermissionDeniedError("no access", provider="openai", status_code=403),
    NotFoundError("no such model", provider="openai", status_code=404),
]
STAYS = [
    InvalidRequestError("bad request", provider="openai", status_code=400),
    ContentFilterError("blocked", provider="openai", status_code=400),
    ResponseParseError("not JSON", provider="openai"),
]


@pytest.mark.parametrize("error", FAILS_OVER, ids=lambda e: type(e).__name__)
def test_the_next_target_answers_and_says_so(
    error: LLMError, named_fake: Any, caplog: pytest.LogCaptureFixture
) -> None:
    primary = named_fake("openai", error)
    fallback = named_fake("anthropic", "from the fallback")
    adapter = FallbackAdapter([Target(primary), Target(fallback, "claude-x")])
    with caplog.at_level(logging.WARNING, logger="persona_llm.reliability"):
        reply = adapter.chat("gpt-x", HELLO)
    assert (reply.content, reply.provider, reply.model) == (
        "from the fallback",
        "anthropic",
        "claude-x",
    )
    assert primary.calls[0].model == "gpt-x"  # the primary gets the caller's model
    (warning,) = caplog.records
    assert "openai/gpt-x failed" in warning.getMessage()
    assert "failing over to anthropic/claude-x" in warning.getMessage()


@pytest.mark.parametrize("error", STAYS, ids=lambda e: type(e).__name__)
def test_request_errors_do_not_fail_over(error: LLMError, named_fake: Any) -> None:
    fallback = named_fake("anthropic", "never")
    adapter = FallbackAdapter([Target(named_fake("openai", error)), Target(fallback, "c")])
    with pytest.raises(type(error)) as caught:
        adapter.chat("gpt-x", HELLO)
    assert caught.value is error and fallback.calls == []


def test_when_every_target_fails_the_primary_error_carries_them_all(named_fake: Any) -> None:
    first, second, third = limited("openai", retry_after=7), down("anthropic"), down("gemini")
    adapter = FallbackAdapter(
        [
            Target(named_fake("openai", first)),
            Target(named_fake("anthropic", second), "c"),
            Target(named_fake("gemini", third), "g"),
        ]
    )
    with pytest.raises(RateLimitError) as caught:
        adapter.chat("gpt-x", HELLO)
    error = caught.value
    assert error is first and error.retry_after == 7 and error.provider == "openai"
    assert error.failures == [first, second, third]
    assert "every target failed" in str(error)
    assert str(error) == (
        "[openai/m] slow down — every target failed: [openai/m: RateLimitError, HTTP 429; "
        "anthropic/m: ProviderUnavailableError, HTTP 503; gemini/m: ProviderUnavailableError, "
        "HTTP 503] (HTTP 429)"
    )


def test_a_request_error_after_a_failover_carries_the_earlier_failures(named_fake: Any) -> None:
    bad = InvalidRequestError("anthropic rejects it", provider="anthropic", status_code=400)
    adapter = FallbackAdapter(
        [Target(named_fake("openai", down("openai"))), Target(named_fake("anthropic", bad), "c")]
    )
    with pytest.raises(InvalidRequestError) as caught:
        adapter.chat("gpt-x", HELLO)
    assert caught.value is bad
    assert [type(f) for f in bad.failures] == [ProviderUnavailableError, InvalidRequestError]


def test_the_deadline_stops_the_failover(named_fake: Any, clock: FakeClock) -> None:
    def slow_failure(messages: Any) -> LLMError:
        clock.advance(5)  # the attempt took 5 s
        return down("openai")

    primary = FakeProvider(slow_failure)
    fallback = named_fake("anthropic", "too late")
    adapter = FallbackAdapter([Target(primary), Target(fallback, "c")], clock.policy(deadline=3.0))
    with pytest.raises(ProviderUnavailableError):
        adapter.chat("m", HELLO)
    assert fallback.calls == []


def test_retries_run_before_the_failover(named_fake: Any, clock: FakeClock) -> None:
    primary = named_fake("openai", down("openai"), down("openai"), down("openai"))
    policy = clock.policy(max_retries=2)
    fallback = named_fake("anthropic", "ok")
    adapter = FallbackAdapter(
        [
            Target(RetryingAdapter(primary, policy)),
            Target(RetryingAdapter(fallback, policy), "c"),
        ],
        policy,
    )
    assert adapter.chat("m", HELLO).provider == "anthropic"
    assert len(primary.calls) == 3 and len(fallback.calls) == 1


async def test_asyncio_calls_fail_over(named_fake: Any) -> None:
    adapter = FallbackAdapter(
        [Target(named_fake("openai", down("openai"))), Target(named_fake("gemini"), "g")]
    )
    reply = await adapter.achat("m", HELLO)
    assert (reply.provider, reply.content) == ("gemini", "hello")


def test_a_stream_fails_over_before_its_first_chunk(scripted_stream: Any) -> None:
    primary = scripted_stream([down("scripted")])
    fallback = scripted_stream(["from", " fallback"])
    adapter = FallbackAdapter([Target(primary), Target(fallback, "f")])
    assert "".join(c.delta for c in adapter.stream("m", HELLO)) == "from fallback"


def test_a_stream_that_started_does_not_fail_over(scripted_stream: Any) -> None:
    primary = scripted_stream(["a", down("scripted")])
    fallback = scripted_stream(["never"])
    seen: list[str] = []
    with pytest.raises(ProviderUnavailableError):
        for chunk in FallbackAdapter([Target(primary), Target(fallback, "f")]).stream("m", HELLO):
            seen.append(chunk.delta)
    assert seen == ["a"] and fallback.opened == 0


async def test_an_async_stream_fails_over_before_its_first_chunk(
    named_fake: Any, scripted_stream: Any
) -> None:
    primary = named_fake("openai", down("openai"))  # fails in astream() when read
    fallback = scripted_stream(["x"])
    stream = FallbackAdapter([Target(primary), Target(fallback, "f")]).astream("m", HELLO)
    assert [c.delta async for c in stream] == ["x", ""]


def test_embeddings_never_fail_over(named_fake: Any) -> None:
    primary, fallback = named_fake("openai"), named_fake("gemini")
    adapter = FallbackAdapter([Target(primary), Target(fallback, "g")])
    assert len(adapter.embeddings("text-embedding-3-small", ["a"], {})) == 1
    assert primary.calls[0].model == "text-embedding-3-small" and fallback.calls == []


def test_capabilities_are_what_every_target_can_do(named_fake: Any) -> None:
    class ChatOnly(FakeProvider):
        capabilities = Capabilities(chat=True, json_mode=True, streaming=False)

    adapter = FallbackAdapter([Target(named_fake("openai")), Target(ChatOnly(), "c")])
    assert adapter.name == "openai"
    assert adapter.capabilities.json_mode and not adapter.capabilities.streaming
    assert adapter.capabilities.embeddings  # the primary's: embeddings never fail over


def test_nested_failovers_report_each_target_once(named_fake: Any, clock: FakeClock) -> None:
    pool = PoolAdapter(
        [Target(named_fake("azure", down("azure"))), Target(named_fake("openai", down("openai")))],
        policy=clock.policy(),
    )
    adapter = FallbackAdapter([Target(pool), Target(named_fake("gemini", down("gemini")), "g")])
    with pytest.raises(ProviderUnavailableError) as caught:
        adapter.chat("m", HELLO)
    assert [f.provider for f in caught.value.failures] == ["azure", "openai", "gemini"]
    assert str(caught.value).count("every target failed") == 1


def test_close_closes_every_target_once(named_fake: Any) -> None:
    closed: list[str] = []
    fake = named_fake("openai")
    fake.close = lambda: closed.append("openai")
    other = named_fake("gemini")
    other.close = lambda: closed.append("gemini")
    FallbackAdapter([Target(fake), Target(fake, "other"), Target(other, "g")]).close()
    assert closed == ["openai", "gemini"]


def test_a_fallback_needs_a_target() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        FallbackAdapter([])


def test_an_error_object_raised_twice_is_summarized_afresh(named_fake: Any) -> None:
    same = down("openai")  # a test may script one error object for several calls
    adapter = FallbackAdapter(
        [
            Target(named_fake("openai", same, same)),
            Target(named_fake("gemini", down("gemini"), "ok"), "g"),
        ]
    )
    with pytest.raises(ProviderUnavailableError):
        adapter.chat("m", HELLO)
    assert adapter.chat("m", HELLO).content == "ok"
    assert same.failures == [] and "every target failed" not in str(same)
