"""A load-independent guard on what a limited call costs (issue 17: ≤ +20 µs per call with
the memory store): the Python functions the limiter layer runs for one admitted call.

Wall time is noise on a shared machine; the number of Python-level calls is not. A call of
a target limited by ``LLM_RATE_LIMITS`` on the memory store, whose reply carries OpenAI's
rate-limit headers with plenty left (the usual case), runs 7 functions of the
limiter layer (the adapter's chat, the estimate, the lane's take, its lease, the headers'
note, the lane's finish, the headers' first look); before the second pass of 2026-12-07 it
ran 50 (~170k instructions, callgrind), after it 22 (~72k), 9 after the third (the lane:
~33k) and 7 after the fourth (the adapter takes the lane itself: ~26.5k). The bound leaves
room for small changes and fails when per-call work (rules and a token per call on the
memory store, a helper per rule, a ``@contextmanager``, a full parse of the headers, a
reservation object per call) comes back.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import httpx2
import pytest

from persona_llm.errors import RateLimitError
from persona_llm.providers._raw import note
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability.policy import RetryPolicy
from persona_llm.state.config import parse_rate_limits
from persona_llm.state.guard import StoreGuard
from persona_llm.state.limited import LimitedAdapter
from persona_llm.state.limiter import RateLimiter
from persona_llm.state.memory import MemoryStore
from persona_llm.types import ChatMessage, ChatRequest, ChatResponse

MAX_CALLS = 9  # limiter-layer functions per admitted call (7 now; 9, 22, then 50 before)
LAYER = ("persona_llm/state/", "persona_llm/providers/_raw.py", "persona_llm/providers/_rate")

HEADERS = httpx2.Headers(
    {
        "content-type": "application/json",
        "x-request-id": "req_1",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "199950",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "15ms",
    }
)


class HeaderedProvider(FakeProvider):
    """The fake provider, whose replies come with OpenAI's rate-limit headers."""

    name = "openai"

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        note(HEADERS)
        return super().chat(model, request)


def _layer_calls(run: Any) -> int:
    """The Python functions of the limiter layer that `run()` called."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call" and any(part in frame.f_code.co_filename for part in LAYER):
            count += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count


def test_a_limited_call_on_the_memory_store_runs_few_functions() -> None:
    store = MemoryStore()
    limits = parse_rate_limits("openai/*=5rpm,100000000tpm,100concurrent")
    limiter = RateLimiter(store, StoreGuard("memory"), limits)
    adapter = LimitedAdapter(HeaderedProvider(), limiter, RetryPolicy(), 0.0)  # no waiting
    request = ChatRequest(
        messages=(ChatMessage(role="user", content="Say hello in five words please."),)
    )
    for _ in range(3):  # the target's plan is built on its first call
        adapter.chat("gpt-4o-mini", request)

    calls = _layer_calls(lambda: adapter.chat("gpt-4o-mini", request))

    assert 5 < calls <= MAX_CALLS, f"{calls} limiter-layer functions for one limited call"
    adapter.chat("gpt-4o-mini", request)  # the measured call took its share: the 5th fits,
    with pytest.raises(RateLimitError, match="5rpm"):  # the 6th does not
        adapter.chat("gpt-4o-mini", request)


def test_a_model_no_limit_matches_skips_the_limiter_layer() -> None:
    store = MemoryStore()
    limits = parse_rate_limits("openai/gpt-4o=5rpm,1000tpm")
    limiter = RateLimiter(store, StoreGuard("memory"), limits)
    adapter = LimitedAdapter(HeaderedProvider(), limiter, RetryPolicy(), 0.0)
    request = ChatRequest(messages=(ChatMessage(role="user", content="Say hello."),))
    adapter.chat("gpt-4o-mini", request)  # the model's (empty) limits are looked up once

    calls = _layer_calls(lambda: adapter.chat("gpt-4o-mini", request))

    assert calls == 2, f"{calls} limiter-layer functions for a call no limit matches"  # chat, note
    for _ in range(10):  # and it takes nothing from gpt-4o's limits
        adapter.chat("gpt-4o-mini", request)
    assert limiter.acquire("openai", "gpt-4o", (10, 10), lambda: 0.0) is not None
