"""The OpenAI / Azure mapping, dict and SDK object in, our types out: no network."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from persona_llm.errors import InvalidRequestError, ProviderUnavailableError, ResponseParseError
from persona_llm.providers.openai import mapping as m
from persona_llm.testing import wire
from persona_llm.types import ChatMessage, ChatRequest, Usage

CREATE_PARAMS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "stop"}
    | {"response_format", "seed", "reasoning_effort", "extra_body", "user"}
)


def request(**fields: Any) -> ChatRequest:
    fields.setdefault("messages", (ChatMessage(role="user", content="Hi"),))
    return ChatRequest(**fields)


def completion(body: dict[str, Any]) -> ChatCompletion:
    return ChatCompletion.model_construct(**body)  # as the SDK builds replies (lenient)


# -- reasoning-model predicates ---------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "o1",
        "o1-mini",
        "o3",
        "o3-mini",
        "o4-mini",
        "o3-pro",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-5.1",
        "gpt-5.2-pro",
        "GPT-5",
        "openai/o3",
    ],
)
def test_reasoning_models_are_recognised(model: str) -> None:
    assert m.is_reasoning_model(model)


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-5-chat-latest",
        "omni-moderation-latest",
        "my-deployment",
        "gpt-oss-20b",
        "text-embedding-3-small",
    ],
)
def test_other_models_are_not_reasoning_models(model: str) -> None:
    assert not m.is_reasoning_model(model)


@pytest.mark.parametrize(
    ("model", "options", "rejects"),
    [
        ("o3-mini", {}, True),
        ("gpt-5", {}, True),
        ("gpt-5-mini", {"reasoning_effort": "minimal"}, True),
        ("gpt-5.1", {}, False),  # reasoning_effort defaults to "none" from 5.1 on
        ("gpt-5.1", {"reasoning_effort": "none"}, False),
        ("gpt-5.1", {"reasoning_effort": "low"}, True),
        ("gpt-5.2-pro", {}, True),
        ("gpt-4o", {}, False),
    ],
)
def test_which_models_reject_a_temperature(
    model: str, options: dict[str, Any], rejects: bool
) -> None:
    assert m.rejects_temperature(model, options) is rejects


# -- request mapping --------------------------------------------------------------------


def test_unset_fields_are_not_sent() -> None:
    params = m.to_openai_params("gpt-4o-mini", request())
    assert params == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


def test_messages_keep_their_order_and_system_messages() -> None:
    messages = (
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Hi"),
        ChatMessage(role="assistant", content="Hello"),
        ChatMessage(role="system", content="Answer in French."),
        ChatMessage(role="user", content="Again"),
    )
    params = m.to_openai_params("gpt-4o-mini", request(messages=messages))
    assert params["messages"] == [{"role": x.role, "content": x.content} for x in messages]


def test_set_fields_are_sent_in_wire_form() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    params = m.to_openai_params(
        "gpt-4o-mini",
        request(temperature=0.2, max_tokens=50, stop=("END",), response_format=schema),
    )
    assert params["temperature"] == 0.2
    assert params["max_tokens"] == 50
    assert "max_completion_tokens" not in params
    assert params["stop"] == ["END"]
    assert params["response_format"] == schema


def test_temperature_zero_is_sent_not_treated_as_unset() -> None:
    assert m.to_openai_params("gpt-4o", request(temperature=0.0))["temperature"] == 0.0


def test_options_pass_through_unchanged_and_win() -> None:
    options = {"seed": 7, "max_tokens": 9, "user": "u1"}
    params = m.to_openai_params(
        "gpt-4o", request(max_tokens=50, options=options), known_params=CREATE_PARAMS
    )
    assert params["seed"] == 7
    assert params["user"] == "u1"
    assert params["max_tokens"] == 9


def test_options_the_sdk_does_not_know_go_into_extra_body() -> None:
    options = {"top_k": 5, "seed": 1, "extra_body": {"repetition_penalty": 1.1}}
    params = m.to_openai_params("gpt-4o", request(options=options), known_params=CREATE_PARAMS)
    assert params["seed"] == 1
    assert params["extra_body"] == {"repetition_penalty": 1.1, "top_k": 5}
    assert "top_k" not in params


def test_reasoning_models_get_max_completion_tokens() -> None:
    params = m.to_openai_params("o3-mini", request(max_tokens=100))
    assert params["max_completion_tokens"] == 100
    assert "max_tokens" not in params


def test_a_non_default_temperature_on_a_reasoning_model_raises_before_the_call() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        m.to_openai_params("gpt-5-mini", request(temperature=0.2), provider="azure")
    message = str(caught.value)
    assert "temperature" in message
    assert "leave temperature unset" in message
    assert "unsupported_params='drop'" in message
    assert caught.value.provider == "azure"
    assert caught.value.model == "gpt-5-mini"


def test_the_default_temperature_is_sent_to_a_reasoning_model() -> None:
    assert m.to_openai_params("o3", request(temperature=1.0))["temperature"] == 1.0


def test_drop_policy_leaves_the_temperature_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=m.__name__):
        params = m.to_openai_params("o3", request(temperature=0.2), unsupported_params="drop")
    assert "temperature" not in params
    assert any(
        r.levelno == logging.WARNING and "temperature" in r.getMessage() for r in caplog.records
    )


def test_a_call_can_choose_the_drop_policy_and_the_option_is_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = {"unsupported_params": "drop"}
    with caplog.at_level(logging.WARNING, logger=m.__name__):
        params = m.to_openai_params("o3", request(temperature=0.5, options=options))
    assert "temperature" not in params
    assert "unsupported_params" not in params
    assert "unsupported_params" not in params.get("extra_body", {})
    assert caplog.records


def test_a_call_can_choose_the_error_policy_over_a_drop_default() -> None:
    options = {"unsupported_params": "error"}
    with pytest.raises(InvalidRequestError):
        m.to_openai_params(
            "o3", request(temperature=0.5, options=options), unsupported_params="drop"
        )


def test_an_unknown_policy_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="unsupported_params"):
        m.to_openai_params("gpt-4o", request(options={"unsupported_params": "ignore"}))


def test_gpt51_without_reasoning_keeps_its_temperature() -> None:
    assert m.to_openai_params("gpt-5.1", request(temperature=0.3))["temperature"] == 0.3


# -- response mapping -------------------------------------------------------------------


def test_a_plain_reply_is_normalized() -> None:
    body = wire.openai_chat("Hello there", model="gpt-4o-mini-2024-07-18")
    reply = m.from_openai_completion(completion(body), provider="openai", model="gpt-4o-mini")
    assert reply.content == "Hello there"
    assert reply.model == "gpt-4o-mini-2024-07-18"  # as reported, not as asked
    assert reply.provider == "openai"
    assert reply.finish_reason == "stop"
    assert reply.refusal is None
    assert reply.tool_calls == []
    assert reply.usage == Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    assert isinstance(reply.raw, ChatCompletion)


def test_a_null_content_becomes_an_empty_string() -> None:
    reply = m.from_openai_completion(
        completion(wire.openai_chat(None, finish_reason="content_filter")),
        provider="openai",
        model="gpt-4o",
    )
    assert reply.content == ""
    assert reply.finish_reason == "content_filter"


def test_a_refusal_is_reported_apart_from_the_content() -> None:
    body = wire.openai_chat(None, refusal="I can't help with that.")
    reply = m.from_openai_completion(completion(body), provider="openai", model="gpt-4o")
    assert reply.content == ""
    assert reply.refusal == "I can't help with that."


@pytest.mark.parametrize(
    ("wire_reason", "normalized"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("something_new", "other"),
    ],
)
def test_finish_reasons_are_normalized(wire_reason: str, normalized: str) -> None:
    body = wire.openai_chat("x", finish_reason=wire_reason)
    reply = m.from_openai_completion(completion(body), provider="openai", model="gpt-4o")
    assert reply.finish_reason == normalized


def test_usage_reports_reasoning_and_cached_tokens() -> None:
    body = wire.openai_chat(
        "",
        finish_reason="length",
        prompt_tokens=40,
        completion_tokens=64,
        reasoning_tokens=64,
        cached_tokens=32,
    )
    reply = m.from_openai_completion(completion(body), provider="openai", model="gpt-5-mini")
    assert reply.content == ""
    assert reply.finish_reason == "length"
    assert reply.usage == Usage(
        prompt_tokens=40,
        completion_tokens=64,
        total_tokens=104,
        reasoning_tokens=64,
        cached_tokens=32,
    )


def test_usage_without_details_or_total() -> None:
    body = wire.openai_chat("x")
    body["usage"] = {"prompt_tokens": 3, "completion_tokens": 4}
    reply = m.from_openai_completion(completion(body), provider="openai", model="m")
    assert reply.usage == Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)


def test_a_reply_without_usage_has_none() -> None:
    body = wire.openai_chat("x")
    del body["usage"]
    reply = m.from_openai_completion(completion(body), provider="openai", model="m")
    assert reply.usage is None


def test_tool_calls_are_mapped_with_parsed_arguments() -> None:
    body = wire.openai_chat(
        None,
        tool_calls=[
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_2", "name": "now", "arguments": ""},
        ],
    )
    reply = m.from_openai_completion(completion(body), provider="openai", model="gpt-4o")
    assert reply.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "now", {}),
    ]


def test_invalid_tool_arguments_raise_a_parse_error() -> None:
    body = wire.openai_chat(None, tool_calls=[{"id": "c", "name": "f", "arguments": '{"a": '}])
    with pytest.raises(ResponseParseError) as caught:
        m.from_openai_completion(completion(body), provider="openai", model="gpt-4o")
    assert caught.value.raw_text == '{"a": '
    assert caught.value.provider == "openai"


def test_legacy_function_call_is_a_tool_call() -> None:
    body = wire.openai_chat(None, finish_reason="function_call")
    body["choices"][0]["message"]["function_call"] = {"name": "f", "arguments": '{"x": 1}'}
    reply = m.from_openai_completion(completion(body), provider="openai", model="m")
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].name == "f"
    assert reply.tool_calls[0].arguments == {"x": 1}


def test_empty_choices_are_a_malformed_reply() -> None:
    body = wire.openai_chat("x")
    body["choices"] = []
    with pytest.raises(ProviderUnavailableError, match="no choices") as caught:
        m.from_openai_completion(completion(body), provider="azure", model="dep")
    assert caught.value.provider == "azure"


def test_unknown_fields_are_ignored() -> None:
    body = wire.openai_chat("ok")
    body["brand_new_field"] = {"x": 1}
    body["choices"][0]["message"]["annotations"] = [{"type": "something_else"}]
    body["choices"][0]["message"]["future"] = True
    reply = m.from_openai_completion(completion(body), provider="openai", model="m")
    assert reply.content == "ok"


def test_an_azure_reply_with_filter_results_parses() -> None:
    body = wire.openai_chat("ok", model="gpt-4o-2024-08-06", azure=True)
    assert "prompt_filter_results" in body
    reply = m.from_openai_completion(completion(body), provider="azure", model="my-deployment")
    assert reply.content == "ok"
    assert reply.model == "gpt-4o-2024-08-06"


# -- stream chunks ----------------------------------------------------------------------


def chunks_of(body: Any) -> list[ChatCompletionChunk]:
    return [ChatCompletionChunk.model_construct(**e) for e in body.events]


def test_stream_chunks_give_text_finish_and_usage() -> None:
    stream = wire.openai_chunks(
        ["Hel", "lo"], finish_reason="length", usage=wire.openai_usage(3, 2)
    )
    parts = [m.from_openai_chunk(chunk) for chunk in chunks_of(stream)]
    assert "".join(text for text, _, _ in parts) == "Hello"
    assert [finish for _, finish, _ in parts if finish] == ["length"]
    assert [usage for _, _, usage in parts if usage] == [
        Usage(prompt_tokens=3, completion_tokens=2)
    ]


def test_azure_opening_chunk_without_choices_is_empty() -> None:
    stream = wire.openai_chunks(["Hi"], azure=True)
    assert m.from_openai_chunk(chunks_of(stream)[0]) == ("", None, None)


# -- embeddings -------------------------------------------------------------------------


def test_embedding_params_send_dimensions_only_when_given() -> None:
    assert m.embedding_params("e", ["a"], {}) == {"model": "e", "input": ["a"]}
    assert m.embedding_params("e", ["a"], {}, dimensions=256)["dimensions"] == 256
    assert m.embedding_params("e", ["a"], {"dimensions": 64})["dimensions"] == 64


def test_embedding_options_the_sdk_does_not_know_go_into_extra_body() -> None:
    params = m.embedding_params(
        "e", ["a"], {"user": "u", "truncate": "END"}, known_params={"model", "input", "user"}
    )
    assert params["user"] == "u"
    assert params["extra_body"] == {"truncate": "END"}


def test_vectors_are_ordered_by_index() -> None:
    body = wire.openai_embeddings([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], base64=False)
    body["data"].reverse()
    vectors = m.vectors_from_openai(
        CreateEmbeddingResponse.model_construct(**body), 3, provider="openai", model="e"
    )
    assert vectors == [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]


def test_a_missing_vector_is_a_malformed_reply() -> None:
    body = wire.openai_embeddings([[1.0], [2.0]], base64=False)
    with pytest.raises(ProviderUnavailableError, match="expected 3 embeddings"):
        m.vectors_from_openai(
            CreateEmbeddingResponse.model_construct(**body), 3, provider="openai", model="e"
        )


# -- error bodies -----------------------------------------------------------------------


def test_error_details_of_an_openai_error() -> None:
    body = wire.openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded")
    assert m.error_details(body["error"]) == ("Rate limit reached", "rate_limit_exceeded")


def test_error_details_of_an_azure_content_filter_error() -> None:
    message, code = m.error_details(wire.azure_content_filter_error()["error"])
    assert code == "content_filter"
    assert message is not None and "content management policy" in message


def test_an_innererror_policy_violation_counts_as_content_filter() -> None:
    body = {
        "message": "blocked",
        "code": None,
        "innererror": {"code": "ResponsibleAIPolicyViolation"},
    }
    assert m.error_details(body) == ("blocked", "content_filter")


def test_error_details_of_a_numeric_code_and_of_text_bodies() -> None:
    assert m.error_details({"code": 401, "message": "Access denied"}) == ("Access denied", "401")
    assert m.error_details("<html>Bad gateway</html>") == ("<html>Bad gateway</html>", None)
    assert m.error_details("") == (None, None)
    assert m.error_details(None) == (None, None)


def test_stream_is_not_a_chat_option() -> None:
    with pytest.raises(InvalidRequestError, match="stream"):
        m.to_openai_params("gpt-4o", request(options={"stream": True}))
