"""The memory store's fast path (`MemoryLane`), the reservation tokens and the headers'
first look: each the same as the general path it stands in for."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import httpx2
import pytest

from persona_llm.errors import RateLimitError
from persona_llm.providers._rate_limits import plenty_left, provider_limits
from persona_llm.providers._raw import collecting, headers_wanted, note
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability.policy import RetryPolicy
from persona_llm.state.config import parse_rate_limits
from persona_llm.state.estimate import Estimate
from persona_llm.state.guard import StoreGuard
from persona_llm.state.limited import LimitedAdapter
from persona_llm.state.limiter import LaneReservation, RateLimiter, Reservation
from persona_llm.state.memory import MemoryStore
from persona_llm.state.notes import CallNotes, current_notes, noting_if, record_fields
from persona_llm.state.reservation import new_token
from persona_llm.state.store import HoldRule, LeaseRule, WindowRule
from persona_llm.testing.clock import FakeClock
from persona_llm.types import ChatMessage, ChatRequest, ChatResponse, Usage


def limiter(limits: str, clock: FakeClock | None = None) -> tuple[RateLimiter, MemoryStore]:
    clock = clock or FakeClock()
    store = MemoryStore(clock)
    entries = parse_rate_limits(limits)
    built = RateLimiter(store, StoreGuard("memory"), entries, clock=clock, sleep=clock.sleep)
    return built, store


def no_wait() -> float:
    return 0.0


def estimate(inputs: int, outputs: int) -> Estimate:
    return Estimate(inputs, outputs)


def test_a_call_on_the_memory_store_takes_the_lane_and_shares_the_store_windows() -> None:
    rate, store = limiter("fake/*=3rpm,1000tpm")
    held = rate.acquire("fake", "m", estimate(100, 200), no_wait)
    assert isinstance(held, LaneReservation)
    # the general path sees what the lane took: 1 of 3 requests, 300 of 1000 tokens
    assert not store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 701)], "x").admitted
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 700)], "x").admitted
    assert store.acquire([WindowRule("rl:fake/*:rpm", 3, 60, 2)], "y").admitted
    assert not store.acquire([WindowRule("rl:fake/*:rpm", 3, 60, 1)], "z").admitted


def test_the_real_usage_replaces_the_estimate_in_the_token_window() -> None:
    rate, store = limiter("fake/*=1000tpm")
    held = rate.acquire("fake", "m", estimate(100, 800), no_wait)
    assert held is not None
    held.finish(Usage(prompt_tokens=90, completion_tokens=10, total_tokens=100), [])
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 900)], "x").admitted


def test_a_failed_call_keeps_its_input_estimate_and_gives_the_output_back() -> None:
    rate, store = limiter("fake/*=1000tpm,500otpm")
    held = rate.acquire("fake", "m", estimate(100, 400), no_wait)
    assert held is not None
    held.settle(None, failed=True)
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 900)], "x").admitted
    assert store.acquire([WindowRule("rl:fake/*:otpm", 500, 60, 500)], "y").admitted


def test_a_correction_after_the_share_left_the_window_changes_nothing() -> None:
    clock = FakeClock()
    rate, store = limiter("fake/*=1000tpm", clock)
    held = rate.acquire("fake", "m", estimate(100, 400), no_wait)
    assert held is not None
    clock.advance(61)
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 1000)], "all").admitted
    held.finish(Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2), [])
    # had the late correction counted, 498 tokens would have come free
    assert not store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 1)], "one").admitted


def test_a_full_window_sends_the_call_to_the_store_which_waits_and_refuses() -> None:
    clock = FakeClock()
    rate, _ = limiter("fake/*=2rpm", clock)
    for _ in range(2):
        assert isinstance(rate.acquire("fake", "m", estimate(1, 1), no_wait), LaneReservation)
    with pytest.raises(RateLimitError, match="2 of 2 used"):
        rate.acquire("fake", "m", estimate(1, 1), no_wait)
    waited = rate.acquire("fake", "m", estimate(1, 1), lambda: 120.0)
    assert isinstance(waited, Reservation) and 59 < sum(clock.sleeps) < 61


def test_a_refused_lane_gives_back_what_it_took_in_the_other_rules() -> None:
    rate, store = limiter("fake/*=10rpm,1concurrent")
    first = rate.acquire("fake", "m", estimate(1, 1), no_wait)
    assert isinstance(first, LaneReservation)
    with pytest.raises(RateLimitError, match="1 of 1 calls in flight"):
        rate.acquire("fake", "m", estimate(1, 1), no_wait)
    # the refused call's request was not counted: 9 more fit in the minute, 1 at a time
    first.finish(None, [])
    for _ in range(9):
        held = rate.acquire("fake", "m", estimate(1, 1), no_wait)
        assert isinstance(held, LaneReservation)
        held.finish(None, [])
    assert not store.acquire([WindowRule("rl:fake/*:rpm", 10, 60, 1)], "x").admitted
    assert store.acquire([LeaseRule("rl:fake/*:concurrent", 1, 60)], "y").admitted


def test_a_provider_hold_sends_the_call_to_the_store_which_applies_it() -> None:
    rate, store = limiter("fake/*=100rpm")
    store.hold("rl:hold:fake/m", [("requests", 0.0, 5.0, 0.0)])
    with pytest.raises(RateLimitError, match="own requests limit"):
        rate.acquire("fake", "m", estimate(1, 1), no_wait)
    other = rate.acquire("fake", "other", estimate(1, 1), no_wait)
    assert isinstance(other, LaneReservation)  # the hold is the target's, not the entry's


def test_headers_that_leave_less_than_the_call_needed_hold_the_target() -> None:
    rate, store = limiter("fake/*=100rpm")
    held = rate.acquire("fake", "m", estimate(100, 100), no_wait)
    assert held is not None
    reply = httpx2.Headers(
        {"x-ratelimit-remaining-tokens": "150", "x-ratelimit-reset-tokens": "30s"}
    )
    held.finish(None, [reply])
    rule = HoldRule("rl:hold:fake/m", 200, 100, 100)
    assert not store.acquire([rule], "next").admitted


def _pair(values: dict[str, str]) -> list[list[Any]]:
    """The same headers as httpx keeps them, and as a plain mapping."""
    return [[httpx2.Headers(values)], [dict(values)]]


@pytest.mark.parametrize(
    ("values", "plenty"),
    [
        ({}, True),
        ({"content-type": "application/json"}, True),
        ({"x-ratelimit-remaining-requests": "1", "x-ratelimit-remaining-tokens": "200"}, True),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "5000"}, False),
        ({"x-ratelimit-remaining-requests": "9", "x-ratelimit-remaining-tokens": "199"}, False),
        ({"anthropic-ratelimit-input-tokens-remaining": "150"}, False),  # read in full
        ({"anthropic-ratelimit-output-tokens-remaining": "49.5"}, False),
        ({"anthropic-ratelimit-requests-remaining": "0.5"}, False),
        ({"anthropic-ratelimit-tokens-remaining": "200.5"}, True),
        ({"x-ratelimit-remaining-tokens": "lots"}, False),
        ({"X-RateLimit-Remaining-Tokens": "20"}, False),
    ],
)
def test_the_first_look_at_the_headers_never_passes_over_a_short_limit(
    values: dict[str, str], plenty: bool
) -> None:
    rule = HoldRule("k", 200, 150, 50)  # tokens 200: the most any limit needs
    for replies in _pair(values):
        assert plenty_left(replies, 200) is plenty
        if plenty:  # else the full reading decides
            assert not provider_limits(replies, wanted=lambda name, left: left < rule.need(name))


def test_tokens_are_unique_in_a_process_and_in_a_forked_child() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        theirs = pool.apply(_tokens, (1000,))
    assert len(set(theirs)) == 1000 and not tokens & set(theirs)


def _tokens(count: int) -> list[str]:
    return [new_token() for _ in range(count)]


def test_notes_are_published_for_the_block_and_recorded_only_when_something_happened() -> None:
    notes = CallNotes()
    assert record_fields(notes) == {} and record_fields(None) == {}
    with noting_if(notes):
        assert current_notes() is notes
        with noting_if(CallNotes()) as inner:
            assert current_notes() is inner
        assert current_notes() is notes
        notes.waited_s += 0.5
    assert current_notes() is None
    assert record_fields(notes) == {
        "cache": None,
        "waited_s": 0.5,
        "limited": None,
        "store_errors": 0,
    }
    assert CallNotes().waited_s == 0.0  # the default is the class's, not shared state


def test_a_limited_call_inside_the_call_notes_collects_in_them_and_restores_them() -> None:
    reply = {"x-ratelimit-remaining-requests": "3"}
    notes = CallNotes()
    with notes:
        note(reply)  # nobody collects: dropped
        assert not headers_wanted()
        with collecting() as replies:
            assert headers_wanted()
            note(reply)
        assert replies == [reply] and notes.replies is None and current_notes() is notes
    assert not headers_wanted() and current_notes() is None


class ShortProvider(FakeProvider):
    """The fake provider, whose replies say no request is left until a reset in 30 s."""

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        note({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "30s"})
        return super().chat(model, request)


@pytest.mark.parametrize("with_notes", [True, False])
def test_the_headers_of_a_limited_call_hold_its_target_with_or_without_call_notes(
    with_notes: bool,
) -> None:
    rate, _ = limiter("fake/*=100rpm")
    adapter = LimitedAdapter(ShortProvider(), rate, RetryPolicy(), 0.0)
    request = ChatRequest(messages=(ChatMessage(role="user", content="hi"),))
    notes = CallNotes()
    with noting_if(notes if with_notes else None):
        adapter.chat("m", request)
        assert current_notes() is (notes if with_notes else None)
    assert notes.replies is None
    with pytest.raises(RateLimitError, match="own requests limit"):
        adapter.chat("m", request)


def test_every_token_window_of_a_call_is_corrected_even_two_of_one_unit() -> None:
    rate, store = limiter("fake/*=1000tpm,800itpm; fake/m=900tpm")
    held = rate.acquire("fake", "m", estimate(300, 400), no_wait)
    assert isinstance(held, LaneReservation)
    held.finish(Usage(prompt_tokens=100, completion_tokens=50, total_tokens=150), [])
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 850)], "a").admitted
    assert store.acquire([WindowRule("rl:fake/m:tpm", 900, 60, 750)], "b").admitted
    assert store.acquire([WindowRule("rl:fake/*:itpm", 800, 60, 700)], "c").admitted
    assert not store.acquire([WindowRule("rl:fake/*:itpm", 800, 60, 1)], "d").admitted


class FailingProvider(FakeProvider):
    """The fake provider, failing every call with a 429 that says retry after 5 s."""

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        note({"x-ratelimit-remaining-requests": "7"})
        raise RateLimitError("slow down", retry_after=5.0, provider="fake", status_code=429)

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        return self.chat(model, request)


@pytest.mark.parametrize("asyncio_call", [False, True])
def test_a_failed_call_on_the_lane_gives_its_output_back_and_obeys_the_429(
    asyncio_call: bool,
) -> None:
    import asyncio

    rate, store = limiter("fake/*=10rpm,1000tpm,1concurrent")
    adapter = LimitedAdapter(FailingProvider(), rate, RetryPolicy(), 0.0)
    request = ChatRequest(messages=(ChatMessage(role="user", content="x" * 400),), max_tokens=500)
    with pytest.raises(RateLimitError, match="slow down"):  # the provider's own 429
        if asyncio_call:
            asyncio.run(adapter.achat("m", request))
        else:
            adapter.chat("m", request)
    # input (104 tokens) kept, output (500) given back, the lease ended
    assert store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 896)], "x").admitted
    assert not store.acquire([WindowRule("rl:fake/*:tpm", 1000, 60, 1)], "z").admitted
    assert store.acquire([LeaseRule("rl:fake/*:concurrent", 1, 60)], "y").admitted
    with pytest.raises(RateLimitError, match="answered 429 with retry-after"):  # held 5 s
        rate.acquire("fake", "m", estimate(1, 1), no_wait)
