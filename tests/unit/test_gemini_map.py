"""The Gemini mapping, dict and SDK object in, our types out: no network, no client."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from google.genai import types

from persona_llm.errors import ContentFilterError, ProviderUnavailableError
from persona_llm.providers.gemini.mapping import (
    EMBED_BATCH_LIMIT,
    embedding_batches,
    from_gemini_chunk,
    from_gemini_embeddings,
    from_gemini_response,
    gemini_error_fields,
    gemini_error_reason,
    gemini_finish_reason,
    gemini_retry_delay,
    gemini_usage,
    to_gemini_contents,
    to_gemini_embed_config,
    to_gemini_request,
)
from persona_llm.testing import wire
from persona_llm.types import ChatMessage, ChatRequest, ToolCall, Usage

MODEL = "gemini-2.5-flash"


def msg(role: str, content: str) -> ChatMessage:
    return ChatMessage(role=role, content=content)  # type: ignore[arg-type]


def request(*messages: ChatMessage, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (msg("user", "Hi"),), **fields)


def reply(body: dict[str, Any]) -> types.GenerateContentResponse:
    """A wire body parsed the way the SDK parses it."""
    return types.GenerateContentResponse.model_validate(body)


# -- contents and system instruction ---------------------------------------------------------


def test_roles_map_to_user_and_model() -> None:
    contents, system = to_gemini_contents(
        [msg("user", "Q1"), msg("assistant", "A1"), msg("user", "Q2")]
    )
    assert contents == [
        {"role": "user", "parts": [{"text": "Q1"}]},
        {"role": "model", "parts": [{"text": "A1"}]},
        {"role": "user", "parts": [{"text": "Q2"}]},
    ]
    assert system is None


def test_every_system_message_is_joined_into_the_system_instruction() -> None:
    contents, system = to_gemini_contents(
        [msg("system", "Be brief."), msg("user", "Hi"), msg("system", "Answer in French.")]
    )
    assert system == "Be brief.\n\nAnswer in French."
    assert contents == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_consecutive_messages_of_one_role_are_merged_into_one_content() -> None:
    contents, _ = to_gemini_contents(
        [msg("user", "a"), msg("user", "b"), msg("assistant", "c"), msg("assistant", "d")]
    )
    assert contents == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
    ]


def test_a_conversation_of_only_system_messages_is_sent_as_the_user_turn() -> None:
    contents, system = to_gemini_contents([msg("system", "Say hi."), msg("system", "Twice.")])
    assert contents == [{"role": "user", "parts": [{"text": "Say hi.\n\nTwice."}]}]
    assert system is None


# -- generation config -----------------------------------------------------------------------


def test_unset_options_are_not_sent() -> None:
    _, config = to_gemini_request(request())
    assert config == {"automatic_function_calling": {"disable": True}}


def test_set_options_are_sent_under_gemini_names() -> None:
    _, config = to_gemini_request(
        request(msg("system", "S"), msg("user", "U"), temperature=0.0, max_tokens=64, stop=("END",))
    )
    assert config["system_instruction"] == "S"
    assert config["temperature"] == 0.0  # zero is a value, not "unset"
    assert config["max_output_tokens"] == 64
    assert config["stop_sequences"] == ["END"]


def test_provider_options_pass_through_and_named_parameters_win() -> None:
    _, config = to_gemini_request(
        request(temperature=0.2, options={"top_p": 0.5, "seed": 7, "temperature": 1.5})
    )
    assert config["top_p"] == 0.5
    assert config["seed"] == 7
    assert config["temperature"] == 0.2


def test_automatic_function_calling_can_be_turned_back_on() -> None:
    _, config = to_gemini_request(
        request(options={"automatic_function_calling": {"disable": False}})
    )
    assert config["automatic_function_calling"] == {"disable": False}


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        (None, {}),
        ({"type": "text"}, {}),
        ({"type": "json_object"}, {"response_mime_type": "application/json"}),
        (
            {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}},
            {"response_mime_type": "application/json", "response_json_schema": {"type": "object"}},
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "no_schema"}},
            {"response_mime_type": "application/json"},
        ),
    ],
)
def test_json_mode_settings(response_format: Any, expected: dict[str, Any]) -> None:
    _, config = to_gemini_request(request(response_format=response_format))
    config.pop("automatic_function_calling")
    assert config == expected


def test_the_config_dict_is_valid_for_the_sdk() -> None:
    _, config = to_gemini_request(
        request(
            msg("system", "S"),
            msg("user", "U"),
            temperature=0.1,
            max_tokens=5,
            stop=("x",),
            response_format={"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        )
    )
    built = types.GenerateContentConfig(**config)
    assert built.response_json_schema == {"type": "object"}
    assert built.automatic_function_calling is not None
    assert built.automatic_function_calling.disable is True


# -- replies ---------------------------------------------------------------------------------


def test_text_parts_are_joined_and_thought_parts_left_out() -> None:
    body = wire.gemini_response(
        [
            {"text": "let me think", "thought": True},
            "Hello, ",
            {"text": "world", "thoughtSignature": "c2ln"},
        ]
    )
    response = from_gemini_response(reply(body), MODEL)
    assert response.content == "Hello, world"
    assert response.finish_reason == "stop"
    assert response.provider == "gemini"
    assert response.tool_calls == []


def test_model_comes_from_model_version_else_the_requested_model() -> None:
    body = wire.gemini_response("x", model_version="gemini-2.5-flash-001")
    assert from_gemini_response(reply(body), MODEL).model == "gemini-2.5-flash-001"
    del body["modelVersion"]
    assert from_gemini_response(reply(body), MODEL).model == MODEL


def test_function_call_parts_become_tool_calls_with_stable_ids() -> None:
    body = wire.gemini_response(
        [
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
            {"functionCall": {"name": "get_time", "args": {}}},
            {"functionCall": {"name": "lookup", "args": {"q": 1}, "id": "fc-9"}},
        ]
    )
    response = from_gemini_response(reply(body), MODEL)
    assert response.finish_reason == "tool_calls"  # Gemini itself says STOP
    assert response.content == ""
    assert response.tool_calls == [
        ToolCall(id="call_0_get_weather", name="get_weather", arguments={"city": "Oslo"}),
        ToolCall(id="call_1_get_time", name="get_time", arguments={}),
        ToolCall(id="fc-9", name="lookup", arguments={"q": 1}),
    ]
    assert from_gemini_response(reply(body), MODEL).tool_calls == response.tool_calls


@pytest.mark.parametrize(
    ("finish", "no_parts", "no_content", "expected"),
    [
        ("MAX_TOKENS", True, False, "length"),
        ("SAFETY", False, True, "content_filter"),
        ("RECITATION", True, False, "content_filter"),
        ("PROHIBITED_CONTENT", False, True, "content_filter"),
    ],
)
def test_a_reply_without_parts_is_empty_text_with_its_finish_reason(
    finish: str, no_parts: bool, no_content: bool, expected: str
) -> None:
    body = wire.gemini_response(
        finish_reason=finish, candidates_tokens=0, no_parts=no_parts, no_content=no_content
    )
    response = from_gemini_response(reply(body), MODEL)
    assert response.content == ""
    assert response.finish_reason == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "other"),
        ("LANGUAGE", "other"),
        ("OTHER", "other"),
        ("FINISH_REASON_UNSPECIFIED", "other"),
        (types.FinishReason.MAX_TOKENS, "length"),
        (None, None),
    ],
)
def test_finish_reason_table(raw: Any, expected: str | None) -> None:
    assert gemini_finish_reason(raw) == expected


def test_only_stop_with_function_calls_becomes_tool_calls() -> None:
    assert gemini_finish_reason("STOP", has_function_calls=True) == "tool_calls"
    assert gemini_finish_reason("MAX_TOKENS", has_function_calls=True) == "length"


def test_an_unknown_finish_reason_is_other() -> None:
    body = wire.gemini_response("x", finish_reason="SOMETHING_NEW")
    with pytest.warns(UserWarning):  # the SDK warns about values it does not know
        parsed = reply(body)
    assert from_gemini_response(parsed, MODEL).finish_reason == "other"


def test_a_blocked_prompt_raises_content_filter_error() -> None:
    body = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4},
        "modelVersion": MODEL,
    }
    with pytest.raises(ContentFilterError) as caught:
        from_gemini_response(reply(body), MODEL)
    assert "PROHIBITED_CONTENT" in str(caught.value)
    assert caught.value.provider == "gemini"
    assert caught.value.model == MODEL


def test_no_candidates_and_no_block_reason_is_a_malformed_reply() -> None:
    with pytest.raises(ProviderUnavailableError, match="no candidate"):
        from_gemini_response(reply({"modelVersion": MODEL}), MODEL)


# -- usage -----------------------------------------------------------------------------------


def test_usage_counts_thoughts_as_completion_and_reasoning_tokens() -> None:
    body = wire.gemini_response("x", prompt_tokens=12, candidates_tokens=5, thoughts_tokens=30)
    body["usageMetadata"]["cachedContentTokenCount"] = 8
    usage = from_gemini_response(reply(body), MODEL).usage
    assert usage == Usage(
        prompt_tokens=12,
        completion_tokens=35,
        total_tokens=47,
        reasoning_tokens=30,
        cached_tokens=8,
    )


def test_an_omitted_candidates_count_is_zero() -> None:
    body = wire.gemini_response(
        finish_reason="MAX_TOKENS", no_parts=True, candidates_tokens=0, thoughts_tokens=64
    )
    assert "candidatesTokenCount" not in body["usageMetadata"]
    usage = from_gemini_response(reply(body), MODEL).usage
    assert usage is not None
    assert (usage.completion_tokens, usage.reasoning_tokens) == (64, 64)


def test_a_missing_total_is_computed() -> None:
    usage = gemini_usage(SimpleNamespace(prompt_token_count=3, candidates_token_count=4))
    assert usage == Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    assert gemini_usage(None) is None


# -- streaming chunks ------------------------------------------------------------------------


def test_stream_events_become_chunks_with_usage_only_at_the_finish() -> None:
    events = wire.gemini_events(["Hel", "lo"], prompt_tokens=2, candidates_tokens=1).events
    first, last = (from_gemini_chunk(reply(event), MODEL) for event in events)
    assert (first.delta, first.finish_reason, first.usage) == ("Hel", None, None)
    assert (last.delta, last.finish_reason) == ("lo", "stop")
    assert last.usage == Usage(prompt_tokens=2, completion_tokens=1, total_tokens=3)


# -- works on any object of the SDK's shape --------------------------------------------------


def test_mapping_reads_plain_objects_too() -> None:
    part = SimpleNamespace(text="plain", thought=None, function_call=None)
    candidate = SimpleNamespace(content=SimpleNamespace(parts=[part]), finish_reason="MAX_TOKENS")
    response = SimpleNamespace(
        candidates=[candidate], usage_metadata=None, model_version=None, prompt_feedback=None
    )
    result = from_gemini_response(response, MODEL)
    assert (result.content, result.finish_reason, result.model) == ("plain", "length", MODEL)


# -- embeddings ------------------------------------------------------------------------------


def test_embedding_batches_keep_order_and_respect_the_size() -> None:
    texts = [f"t{i}" for i in range(7)]
    batches = list(embedding_batches(texts, 3))
    assert batches == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6"]]
    assert [t for batch in batches for t in batch] == texts
    assert list(embedding_batches(texts)) == [texts]
    assert EMBED_BATCH_LIMIT == 100


@pytest.mark.parametrize(
    ("options", "default", "expected"),
    [
        ({}, None, {}),
        ({}, 256, {"output_dimensionality": 256}),
        ({"dimensions": 64}, 256, {"output_dimensionality": 64}),
        ({"task_type": "RETRIEVAL_QUERY"}, None, {"task_type": "RETRIEVAL_QUERY"}),
        ({"output_dimensionality": 32, "dimensions": 64}, None, {"output_dimensionality": 32}),
    ],
)
def test_embed_config(options: dict[str, Any], default: int | None, expected: Any) -> None:
    config = to_gemini_embed_config(options, default)
    assert config == expected
    types.EmbedContentConfig(**config)  # accepted by the SDK


def test_embedding_vectors_are_read_in_order() -> None:
    vectors = [wire.fake_vector("a"), wire.fake_vector("b")]
    parsed = types.EmbedContentResponse.model_validate(wire.gemini_embeddings(vectors))
    assert from_gemini_embeddings(parsed, 2, MODEL) == vectors


def test_a_wrong_number_of_embeddings_is_a_malformed_reply() -> None:
    parsed = types.EmbedContentResponse.model_validate(wire.gemini_embeddings([[0.5]]))
    with pytest.raises(ProviderUnavailableError, match="malformed reply"):
        from_gemini_embeddings(parsed, 2, MODEL)


# -- error bodies ----------------------------------------------------------------------------


def test_error_reason_and_retry_delay_are_read_from_details() -> None:
    body = wire.gemini_error(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID")
    assert gemini_error_reason(body) == "API_KEY_INVALID"
    quota = wire.gemini_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED")
    quota["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
    ]
    assert gemini_retry_delay(quota) == 37.0
    assert gemini_error_reason(quota) is None
    assert gemini_retry_delay([quota]) == 37.0  # streaming errors come as a one-item list


@pytest.mark.parametrize("body", [None, "text", [], {"error": "x"}, {"error": {"details": "x"}}])
def test_error_helpers_tolerate_odd_bodies(body: Any) -> None:
    assert gemini_error_reason(body) is None
    assert gemini_retry_delay(body) is None


def test_error_fields_for_error_from_status() -> None:
    body = wire.gemini_error(400, "API key not valid.", "INVALID_ARGUMENT", "API_KEY_INVALID")
    message, code, headers = gemini_error_fields(
        body, "INVALID_ARGUMENT", "API key not valid.", None
    )
    assert (message, code, headers) == (
        "INVALID_ARGUMENT: API key not valid.",
        "API_KEY_INVALID",
        {},
    )


def test_error_fields_turn_retry_info_into_a_retry_after_header() -> None:
    body = wire.gemini_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED")
    body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
    ]
    _, code, headers = gemini_error_fields(body, "RESOURCE_EXHAUSTED", "Quota exceeded", {})
    assert (code, headers) == ("RESOURCE_EXHAUSTED", {"retry-after": "1.5"})
    _, _, headers = gemini_error_fields(body, None, "x", {"Retry-After": "9"})
    assert headers == {"Retry-After": "9"}  # the provider's header wins


def test_error_fields_leave_an_html_page_unprefixed() -> None:
    page = "<!DOCTYPE html><html><body>502</body></html>"
    message, code, _ = gemini_error_fields({"message": page}, "Bad Gateway", page, None)
    assert (message, code) == (page, "Bad Gateway")
