"""Malformed provider replies become our errors, naming the provider — never a raw exception.

Explicit cases first (missing fields, wrong types, empty choices, truncated JSON, a non-JSON
200), then property-based tests that generate such replies and send them through the real
SDKs from the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_llm.errors import (
    ContentFilterError,
    LLMError,
    ProviderUnavailableError,
    ResponseParseError,
)
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing import wire
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, Reply, SSEReply
from persona_llm.types import ChatMessage, ChatRequest, ChatResponse

HELLO = ChatRequest(messages=(ChatMessage(role="user", content="hello"),))
MODELS = {"openai": "gpt-4o-mini", "azure": "dep", "anthropic": "claude-x", "gemini": "gemini-x"}
MALFORMED = (ProviderUnavailableError, ResponseParseError)
VALID = {
    "openai": wire.openai_chat("hi"),
    "azure": wire.openai_chat("hi"),
    "anthropic": wire.anthropic_message("hi"),
    "gemini": wire.gemini_response("hi"),
}
# The field holding the reply in each provider's body.
REPLY_FIELD = {
    "openai": "choices",
    "azure": "choices",
    "anthropic": "content",
    "gemini": "candidates",
}


def send(adapter: ProviderAdapter, emu: ProviderEmulator, provider: str, body: Any) -> Any:
    """Queue `body` as a 200 reply and make one chat call: the reply, or the error raised."""
    emu.reset()
    emu.enqueue(provider, Reply(body, content_type="application/json"))
    try:
        return adapter.chat(MODELS[provider], HELLO)
    except Exception as error:  # what escapes is what is under test
        return error


def assert_malformed_error(outcome: Any, provider: str) -> None:
    assert isinstance(outcome, MALFORMED), f"{type(outcome).__name__}: {outcome}"
    assert outcome.provider == provider and provider in str(outcome)
    assert outcome.retryable or isinstance(outcome, ResponseParseError)


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


CASES: dict[str, Any] = {
    "truncated JSON": lambda p: json.dumps(VALID[p])[: len(json.dumps(VALID[p])) // 2],
    "not JSON": lambda p: "Service temporarily unavailable, please try again",
    "an HTML page": lambda p: "<html><body>Gateway</body></html>",
    "empty body": lambda p: b"",
    "a JSON list": lambda p: [VALID[p]],
    "a JSON number": lambda p: 42,
    "wrong type of the reply field": lambda p: {**VALID[p], REPLY_FIELD[p]: "text"},
    "reply field missing": lambda p: without(VALID[p], REPLY_FIELD[p]),
}


MALFORMED_CASES = [
    pytest.param(provider, case, id=f"{provider}-{case}")
    for provider in PROVIDERS
    for case in CASES
]


@pytest.mark.parametrize(("provider", "case"), MALFORMED_CASES)
def test_a_malformed_reply_is_a_provider_error(
    provider: str, case: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    outcome = send(adapters[provider], emu, provider, CASES[case](provider))
    assert_malformed_error(outcome, provider)


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_empty_choices_is_a_provider_error(
    provider: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    outcome = send(adapters[provider], emu, provider, {**VALID[provider], "choices": []})
    assert_malformed_error(outcome, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_garbled_stream_event_is_a_provider_error(
    provider: str, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    separator = "\r\n\r\n" if provider == "gemini" else "\n\n"
    emu.enqueue(provider, SSEReply(['data: {"choices": [{"delta": {"cont'], separator=separator))
    with pytest.raises(LLMError) as caught:
        list(adapters[provider].stream(MODELS[provider], HELLO))
    assert isinstance(caught.value, MALFORMED) and caught.value.provider == provider


# -- property-based ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def damaged_bodies(draw: st.DrawFn, provider: str) -> Any:
    """A valid reply body with fields removed or replaced, nested ones included."""
    body = json.loads(json.dumps(VALID[provider]))
    for _ in range(draw(st.integers(1, 3))):
        node = body
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            child = node[draw(st.sampled_from(keys))]
            if not isinstance(child, (dict, list)) or not child:
                break
            node = child
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if draw(st.booleans()):
                del node[key]
            else:
                node[key] = draw(json_values)
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
    return body


def assert_normalized_or_named(outcome: Any, provider: str) -> None:
    """A reply that still reads as one is normalized; anything else is our named error."""
    if isinstance(outcome, ChatResponse):
        assert isinstance(outcome.content, str) and outcome.provider == provider
        return
    allowed = (*MALFORMED, ContentFilterError)
    assert isinstance(outcome, allowed), f"{type(outcome).__name__} leaked: {outcome!r}"
    assert outcome.provider == provider


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("provider", PROVIDERS)
@PROPERTY
@given(data=st.data())
def test_damaged_replies_never_leak_a_raw_exception(
    provider: str, data: st.DataObject, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    body = data.draw(damaged_bodies(provider))
    assert_normalized_or_named(send(adapters[provider], emu, provider, body), provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@PROPERTY
@given(body=json_values)
def test_arbitrary_json_never_leaks_a_raw_exception(
    provider: str, body: Any, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> None:
    payload = json.dumps(body)  # sent verbatim: a str body is not re-encoded
    assert_normalized_or_named(send(adapters[provider], emu, provider, payload), provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@PROPERTY
@given(cut=st.integers(min_value=0), junk=st.text(max_size=5))
def test_truncated_replies_are_provider_errors(
    provider: str,
    cut: int,
    junk: str,
    adapters: dict[str, ProviderAdapter],
    emu: ProviderEmulator,
) -> None:
    text = json.dumps(VALID[provider])
    partial = text[: 1 + cut % (len(text) - 1)] + junk
    try:
        json.loads(partial)
    except json.JSONDecodeError:
        outcome = send(adapters[provider], emu, provider, partial)
        assert_malformed_error(outcome, provider)
