"""The Gemini reply mapping on JSON bodies as the API sends them (the adapter's wire path).

Bodies shaped as the Gemini API answers (``responseId``, ``promptTokensDetails``, safety
ratings, fields the mapping does not read), awkward ones first: a prompt blocked before any
candidate, ``finishReason: SAFETY`` without content, function calls with thought signatures,
thought parts, no ``usageMetadata``, unknown fields. Each is also mapped from the SDK's
``GenerateContentResponse`` built the way ``generate_content`` builds it, and the two must
agree; a property test does the same for generated valid bodies.
"""

from __future__ import annotations

import base64
import copy
import pickle
from typing import Any

import pytest
from google.genai import models, types
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_llm.errors import ContentFilterError, LLMError, ProviderUnavailableError
from persona_llm.providers.gemini.mapping import from_gemini_response
from persona_llm.providers.gemini.wire import GeminiRawReply, check_reply
from persona_llm.types import ChatResponse, ToolCall, Usage

SIGNATURE = base64.b64encode(b"\xfb\xff\xbe signed by gemini").decode()

# gemini-2.5-flash with thinking: a thought summary, then the answer with a signature.
THOUGHTFUL = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "**Weighing it**\nThe user wants a greeting.", "thought": True},
                    {"text": "Hello! ", "thoughtSignature": SIGNATURE},
                    {"text": "How can I help?"},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 9,
        "candidatesTokenCount": 8,
        "totalTokenCount": 45,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
        "thoughtsTokenCount": 28,
        "cachedContentTokenCount": 4,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "fK3eaKG2Ha-vz7IP0Lq8mQQ",
}

# Two parallel function calls, no text, finishReason STOP, and no candidatesTokenCount.
FUNCTION_CALLS = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": SIGNATURE,
                    },
                    {"functionCall": {"name": "get_time", "args": {}, "id": "fc-7"}},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "avgLogprobs": -0.0123,
        }
    ],
    "usageMetadata": {"promptTokenCount": 61, "totalTokenCount": 61},
    "modelVersion": "gemini-2.5-pro",
}

BLOCKED = {
    "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
    "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "b1",
}

SAFETY = {
    "candidates": [
        {
            "finishReason": "SAFETY",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            ],
        }
    ],
    "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20},
    "modelVersion": "gemini-2.0-flash",
}

# No usageMetadata; fields the SDK's model may not know, in the body and in a part.
UNKNOWN_FIELDS = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Hi", "partMetadata": {"x": 1}}], "role": "model"},
            "finishReason": "MAX_TOKENS",
            "groundingMetadata": {"webSearchQueries": ["hi"]},
            "brandNewCandidateField": [1, 2],
        }
    ],
    "modelVersion": "gemini-3-flash-preview",
    "sdkDoesNotKnowThis": {"a": None},
}

MAX_TOKENS_NO_PARTS = {
    "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
    "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 69, "thoughtsTokenCount": 64},
    "modelVersion": "gemini-2.5-flash",
}


def sdk_response(body: Any) -> types.GenerateContentResponse:
    """The SDK's model of `body`, built as ``Models.generate_content`` builds it."""
    converted = models._GenerateContentResponse_from_mldev(copy.deepcopy(body), None, None)
    return types.GenerateContentResponse._from_response(response=converted, kwargs={})


def outcome(reply: Any) -> ChatResponse | tuple[type[LLMError], str]:
    try:
        return from_gemini_response(reply, "gemini-x")
    except LLMError as exc:
        return type(exc), str(exc)


def both(body: dict[str, Any]) -> ChatResponse:
    """The reply from the JSON, checked equal to the reply from the SDK's model."""
    check_reply(body)
    from_json = from_gemini_response(GeminiRawReply(body, False), "gemini-x")
    from_model = from_gemini_response(sdk_response(body), "gemini-x")
    assert from_json == from_model
    assert from_json.model_dump() == from_model.model_dump()
    return from_json


def test_thought_parts_are_reasoning_and_the_text_signature_is_kept() -> None:
    reply = both(THOUGHTFUL)
    assert reply.content == "Hello! How can I help?"
    assert reply.reasoning == "**Weighing it**\nThe user wants a greeting."
    assert reply.provider_data == {"gemini": {"text_signature": SIGNATURE}}
    assert reply.usage == Usage(
        prompt_tokens=9, completion_tokens=36, total_tokens=45, reasoning_tokens=28, cached_tokens=4
    )
    assert (reply.model, reply.finish_reason) == ("gemini-2.5-flash", "stop")


def test_function_calls_without_text() -> None:
    reply = both(FUNCTION_CALLS)
    assert (reply.content, reply.finish_reason) == ("", "tool_calls")
    assert reply.tool_calls == [
        ToolCall(
            id="call_0_get_weather",
            name="get_weather",
            arguments={"city": "Paris"},
            provider_data={"gemini": {"thought_signature": SIGNATURE}},
        ),
        ToolCall(
            id="fc-7", name="get_time", arguments={}, provider_data={"gemini": {"id": "fc-7"}}
        ),
    ]
    assert reply.tool_calls[0].provider_data == {"gemini": {"thought_signature": SIGNATURE}}
    assert reply.usage == Usage(prompt_tokens=61, completion_tokens=0, total_tokens=61)


def test_a_blocked_prompt_is_a_content_filter_error_on_both_forms() -> None:
    with pytest.raises(ContentFilterError, match="PROHIBITED_CONTENT"):
        from_gemini_response(GeminiRawReply(BLOCKED, False), "gemini-x")
    assert outcome(GeminiRawReply(BLOCKED, False)) == outcome(sdk_response(BLOCKED))


def test_safety_without_content_is_empty_with_its_finish_reason() -> None:
    reply = both(SAFETY)
    assert (reply.content, reply.finish_reason, reply.tool_calls) == ("", "content_filter", [])


def test_unknown_fields_are_ignored_and_missing_usage_is_none() -> None:
    reply = both(UNKNOWN_FIELDS)
    assert (reply.content, reply.finish_reason, reply.usage) == ("Hi", "length", None)


def test_max_tokens_spent_on_thinking() -> None:
    reply = both(MAX_TOKENS_NO_PARTS)
    assert (reply.content, reply.finish_reason) == ("", "length")
    assert reply.usage is not None and reply.usage.completion_tokens == 64


def test_a_url_safe_signature_reads_as_the_sdk_reads_it() -> None:
    url_safe = base64.urlsafe_b64encode(b"\xfb\xff\xbe signed by gemini").decode()
    body = copy.deepcopy(FUNCTION_CALLS)
    body["candidates"][0]["content"]["parts"][0]["thoughtSignature"] = url_safe.rstrip("=")
    assert both(body).tool_calls[0].provider_data["gemini"]["thought_signature"] == SIGNATURE


@pytest.mark.parametrize(
    "body",
    [
        {"candidates": [{"content": {"parts": "not a list"}}]},
        {"candidates": [{"finishReason": 5}]},
        {"candidates": {"0": {}}},
        {"candidates": [{"content": {"parts": [{"text": 7}]}, "finishReason": "STOP"}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": []}}]}}]},
        {"candidates": [], "usageMetadata": {"promptTokenCount": "many"}},
    ],
)
def test_fields_of_the_wrong_type_are_refused_as_the_sdk_model_refuses_them(body: Any) -> None:
    with pytest.raises(TypeError, match="in gemini's reply"):
        check_reply(body)


def test_no_candidate_is_malformed_on_both_forms() -> None:
    for body in ({}, {"candidates": []}, {"usageMetadata": {"promptTokenCount": 1}}):
        kind, _ = outcome(GeminiRawReply(body, False))  # type: ignore[misc]
        assert kind is ProviderUnavailableError
        assert outcome(GeminiRawReply(body, False)) == outcome(sdk_response(body))


def test_raw_is_the_json_and_builds_the_sdk_model_when_read_as_one() -> None:
    reply = both(THOUGHTFUL)
    assert isinstance(reply.raw, GeminiRawReply) and reply.raw == THOUGHTFUL
    assert reply.raw._model is None  # nothing built yet
    assert reply.raw.candidates[0].content.parts[2].text == "How can I help?"
    assert reply.raw.usage_metadata.thoughts_token_count == 28
    assert isinstance(reply.raw.sdk_model(), types.GenerateContentResponse)
    for copied in (pickle.loads(pickle.dumps(reply.raw)), copy.deepcopy(reply.raw)):
        assert copied == THOUGHTFUL and copied.model_version == "gemini-2.5-flash"
    assert "raw" not in repr(reply) and "raw" not in reply.model_dump()


# -- property: the JSON and the SDK's model give the same reply -----------------------------

texts = st.text(max_size=12)
signatures = st.binary(min_size=1, max_size=12).flatmap(
    lambda raw: st.sampled_from(
        [
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
        ]
    )
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-99, 99) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
finish_reasons = ["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER", "BLOCKLIST", "SPII"]
finish_reasons += ["PROHIBITED_CONTENT", "MALFORMED_FUNCTION_CALL", "LANGUAGE"]
counts = ["promptTokenCount", "candidatesTokenCount", "totalTokenCount", "thoughtsTokenCount"]


@st.composite
def parts(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        part: dict[str, Any] = {"text": draw(texts)}
        if draw(st.booleans()):
            part["thought"] = draw(st.booleans())
    else:
        call: dict[str, Any] = {
            "name": draw(names),
            "args": draw(st.dictionaries(names, json_values, max_size=3)),
        }
        if draw(st.booleans()):
            call["id"] = draw(names)
        part = {"functionCall": call}
    if draw(st.booleans()):
        part["thoughtSignature"] = draw(signatures)
    return part


@st.composite
def candidates(draw: st.DrawFn) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": draw(st.integers(0, 3))}
    if draw(st.integers(0, 4)):
        content: dict[str, Any] = {"role": "model"}
        if draw(st.integers(0, 4)):
            content["parts"] = draw(st.lists(parts(), max_size=4))
        candidate["content"] = content
    if draw(st.integers(0, 4)):
        candidate["finishReason"] = draw(st.sampled_from(finish_reasons))
    return candidate


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"candidates": draw(st.lists(candidates(), max_size=2))}
    if draw(st.booleans()):
        body["usageMetadata"] = {
            name: draw(st.integers(0, 5000)) for name in counts if draw(st.booleans())
        }
    if draw(st.booleans()):
        body["modelVersion"] = draw(st.sampled_from(["gemini-2.5-flash", ""]))
    if draw(st.integers(0, 5)) == 0:
        body["promptFeedback"] = {"blockReason": draw(st.sampled_from(["SAFETY", "OTHER"]))}
    if draw(st.booleans()):
        body["responseId"] = draw(texts)
    return body


@settings(max_examples=200, deadline=None)
@given(body=bodies())
def test_json_and_sdk_model_give_equal_replies(body: dict[str, Any]) -> None:
    check_reply(body)  # every generated body is valid
    from_json = outcome(GeminiRawReply(copy.deepcopy(body), False))
    from_model = outcome(sdk_response(body))
    assert from_json == from_model
    if isinstance(from_json, ChatResponse) and isinstance(from_model, ChatResponse):
        assert from_json.model_dump() == from_model.model_dump()
