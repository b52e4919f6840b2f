"""Structured output: JSON found, repaired, validated, re-asked once, then a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers
from pydantic import BaseModel, Field

from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.containers import container
from persona_llm.errors import ContentFilterError, InvalidRequestError, ResponseParseError
from persona_llm.facades import get_async_chat_client, get_chat_client
from persona_llm.features.structured import (
    OutputValidationError,
    achat_validated,
    chat_validated,
    extract_json,
    response_format_for,
    strict_schema,
)
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatResponse, ToolCall
from persona_llm.workflows.prompts import REASK_PROMPT

ASK = [{"role": "user", "content": "Who is the user?"}]
JSON_MODE = {"type": "json_object"}


class Person(BaseModel):
    name: str
    age: int
    nickname: str | None = None


class Address(BaseModel):
    city: str


class Profile(BaseModel):
    person: Person
    home: Address = Field(description="where they live")
    tags: list[str]


class Loose(BaseModel):
    extra: dict[str, Any]


def chat_client(*replies: Any) -> tuple[FakeProvider, ChatClient]:
    fake = FakeProvider(list(replies), strict_json=False)
    return fake, ChatClient(fake, "fake-model")


def async_chat_client(*replies: Any) -> tuple[FakeProvider, AsyncChatClient]:
    fake = FakeProvider(list(replies), strict_json=False)
    return fake, AsyncChatClient(fake, "fake-model")


def reply(content: str = "", **fields: Any) -> ChatResponse:
    return ChatResponse(content=content, model="fake-model", provider="fake", **fields)


# -- extract_json: pure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
        ('[{"a": 1}, {"a": 2}]', [{"a": 1}, {"a": 2}]),
        ('```json\n{"name": "Ada"}\n```', {"name": "Ada"}),
        ('Here is the JSON:\n```\n{"name": "Ada"}\n```\nAnything else?', {"name": "Ada"}),
        ('Sure! {"name": "Ada", "tags": ["x"]} Hope that helps.', {"name": "Ada", "tags": ["x"]}),
        ('As noted in [1], the answer is {"name": "Ada"}.', {"name": "Ada"}),
        ('{"name": "Ada", "tags": ["a", "b",],}', {"name": "Ada", "tags": ["a", "b"]}),
        ('```json\n{"nodes": [{"name": "A"},]}\n```', {"nodes": [{"name": "A"}]}),
        ("{'name': 'Ada', 'age': 36}", {"name": "Ada", "age": 36}),
        ('{"name": "Ada" "age": 36}', {"name": "Ada", "age": 36}),
        ('{"name": "Ada", "age": 36', {"name": "Ada", "age": 36}),
    ],
    ids=[
        "bare-object",
        "bare-array",
        "fenced",
        "fenced-with-prose",
        "prose-around",
        "citation-before",
        "trailing-commas",
        "fenced-trailing-comma",
        "single-quotes",
        "missing-comma",
        "missing-closing-brace",
    ],
)
def test_extract_json_finds_and_repairs(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


def test_a_broken_object_is_repaired_whole_not_cut_to_an_inner_object() -> None:
    text = 'Nodes: {"nodes": [{"name": "A", "type": "Trait"}, {"name": "B"},]}'
    assert extract_json(text) == {"nodes": [{"name": "A", "type": "Trait"}, {"name": "B"}]}


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that request.",
        "The user likes the set {a, b} of options.",
        "- [ ] call mum [citation needed]",
        "",
        "   \n",
    ],
    ids=["refusal-prose", "braces-in-prose", "brackets-in-prose", "empty", "blank"],
)
def test_text_without_json_is_an_error_never_an_empty_container(text: str) -> None:
    with pytest.raises(ResponseParseError, match="no JSON object or array") as info:
        extract_json(text)
    assert info.value.raw_text == text


def test_repair_can_be_turned_off_for_cut_off_replies() -> None:
    with pytest.raises(ResponseParseError, match="malformed or incomplete"):
        extract_json('{"name": "Ada", "tags": ["a", "b"', repair=False)


# -- strict_schema: pure --------------------------------------------------------------------


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("type") == "object" else []
        return own + [o for value in node.values() for o in _objects(value)]
    if isinstance(node, list):
        return [o for value in node for o in _objects(value)]
    return []


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_schema(Profile)
    objects = _objects(schema)
    # Profile, Person and Address in $defs, and Address again where it was inlined.
    assert len(objects) == 4
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])


def test_strict_schema_keeps_optional_fields_nullable_and_drops_null_defaults() -> None:
    nickname = strict_schema(Person)["properties"]["nickname"]
    assert {"type": "null"} in nickname["anyOf"]
    assert "default" not in nickname
    assert "nickname" in strict_schema(Person)["required"]


def test_strict_schema_inlines_a_ref_that_has_sibling_keys() -> None:
    home = strict_schema(Profile)["properties"]["home"]
    assert "$ref" not in home
    assert home["description"] == "where they live"
    assert home["properties"] == {"city": {"title": "City", "type": "string"}}


def test_response_format_for_a_model() -> None:
    response_format = response_format_for(Person)
    assert response_format["type"] == "json_schema"
    described = response_format["json_schema"]
    assert (described["name"], described["strict"]) == ("Person", True)
    assert described["schema"] == strict_schema(Person)


def test_a_free_form_dict_field_is_sent_without_strict() -> None:
    assert response_format_for(Loose)["json_schema"]["strict"] is False


# -- through the chat client ----------------------------------------------------------------


def test_json_object_mode_fills_parsed() -> None:
    fake, client = chat_client('{"name": "Ada", "age": 36}')
    response = client.chat(ASK, response_format=JSON_MODE)
    assert response.parsed == {"name": "Ada", "age": 36}
    assert response.content == '{"name": "Ada", "age": 36}'
    assert dict(fake.last_request.response_format or {}) == JSON_MODE


def test_text_mode_leaves_parsed_empty() -> None:
    _, client = chat_client('{"name": "Ada"}')
    assert client.chat(ASK).parsed is None


def test_response_model_sends_a_strict_schema_and_returns_an_instance() -> None:
    fake, client = chat_client({"name": "Ada", "age": 36, "nickname": None})
    response = client.chat(ASK, response_model=Person)
    assert response.parsed == Person(name="Ada", age=36)
    sent = fake.last_request.response_format
    assert sent == response_format_for(Person)


def test_response_model_from_fenced_json_with_trailing_comma() -> None:
    _, client = chat_client('Here you go:\n```json\n{"name": "Ada", "age": 36,}\n```')
    assert client.chat(ASK, response_model=Person).parsed == Person(name="Ada", age=36)


def test_validation_failure_is_reasked_once_showing_the_errors() -> None:
    fake, client = chat_client({"name": "Ada", "age": "thirty-six"}, {"name": "Ada", "age": 36})
    response = client.chat(ASK, response_model=Person)
    assert response.parsed == Person(name="Ada", age=36)
    assert len(fake.calls) == 2
    *original, failed, reask = fake.last_request.messages
    assert [m.model_dump() for m in original] == ASK
    assert (failed.role, failed.content) == ("assistant", '{"name": "Ada", "age": "thirty-six"}')
    assert reask.role == "user"
    assert "age: Input should be a valid integer" in reask.content
    assert reask.content.startswith(REASK_PROMPT.split("{errors}")[0])


def test_still_invalid_after_the_reask_raises_with_raw_text_and_errors() -> None:
    fake, client = chat_client({"name": "Ada"}, {"name": "Ada", "age": "old"})
    with pytest.raises(ResponseParseError) as info:
        client.chat(ASK, response_model=Person)
    assert len(fake.calls) == 2
    assert info.value.raw_text == '{"name": "Ada", "age": "old"}'
    [error] = info.value.errors
    assert error.startswith("age: Input should be a valid integer")
    assert (info.value.provider, info.value.model) == ("fake", "fake-model")


def test_pure_prose_is_reasked_then_raises_never_an_empty_result() -> None:
    prose = "I'm not able to produce that in JSON, sorry."
    fake, client = chat_client(prose, prose)
    with pytest.raises(ResponseParseError, match="no JSON") as info:
        client.chat(ASK, response_format=JSON_MODE)
    assert info.value.raw_text == prose
    assert len(fake.calls) == 2
    assert "no JSON object or array" in fake.last_request.messages[-1].content


@pytest.mark.parametrize(("max_reasks", "calls"), [(0, 1), (1, 2), (3, 4)])
def test_max_reasks_bounds_the_number_of_calls(max_reasks: int, calls: int) -> None:
    fake, client = chat_client(*["not json"] * 5)
    with pytest.raises(ResponseParseError):
        client.chat(ASK, response_format=JSON_MODE, max_reasks=max_reasks)
    assert len(fake.calls) == calls


def test_a_strict_provider_rejecting_prose_is_reasked_too() -> None:
    fake = FakeProvider(["Sure! Here it is.", '{"name": "Ada", "age": 36}'], strict_json=True)
    response = ChatClient(fake, "fake-model").chat(ASK, response_model=Person)
    assert response.parsed == Person(name="Ada", age=36)
    assert fake.last_request.messages[-2].content == "Sure! Here it is."


def test_a_reply_cut_off_at_max_tokens_is_not_repaired_but_reasked() -> None:
    cut = reply('{"name": "Ada", "age": 36, "nickname": "Countess of Lov', finish_reason="length")
    fake, client = chat_client(cut, '{"name": "Ada", "age": 36}')
    assert client.chat(ASK, response_model=Person).parsed == Person(name="Ada", age=36)
    assert "cut off at max_tokens" in fake.last_request.messages[-1].content


def test_raw_json_schema_format_is_validated_with_jsonschema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    fake, client = chat_client({"n": "one"}, {"n": 1})
    assert client.chat(ASK, response_format=response_format).parsed == {"n": 1}
    assert "$.n: 'one' is not of type 'integer'" in fake.last_request.messages[-1].content


def test_a_forced_tool_call_reply_is_read_from_the_arguments() -> None:
    tool_reply = reply(
        tool_calls=[ToolCall(id="t1", name="json", arguments={"name": "A", "age": 1})]
    )
    _, client = chat_client(tool_reply)
    assert client.chat(ASK, response_model=Person).parsed == Person(name="A", age=1)


@pytest.mark.parametrize(
    "refusal",
    [
        reply(refusal="I can't help with that.", finish_reason="stop"),
        reply(content="", finish_reason="content_filter"),
    ],
    ids=["refusal-field", "content-filter"],
)
def test_a_refusal_is_a_content_filter_error_and_is_not_reasked(refusal: ChatResponse) -> None:
    fake, client = chat_client(refusal, '{"name": "Ada", "age": 36}')
    with pytest.raises(ContentFilterError):
        client.chat(ASK, response_model=Person)
    assert len(fake.calls) == 1


def test_a_refusal_on_the_reask_is_a_content_filter_error() -> None:
    _, client = chat_client("nope", reply(refusal="I won't."))
    with pytest.raises(ContentFilterError, match="refused: I won't"):
        client.chat(ASK, response_format=JSON_MODE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"response_format": JSON_MODE, "response_model": Person}, "not both"),
        ({"response_model": dict}, "pydantic model class"),
        ({"response_model": Person, "max_reasks": -1}, "max_reasks"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": 5}}}},
            "not a valid JSON Schema",
        ),
    ],
    ids=["both", "not-a-model", "negative-reasks", "invalid-schema"],
)
def test_bad_arguments_are_invalid_requests(kwargs: dict[str, Any], message: str) -> None:
    fake, client = chat_client('{"name": "Ada", "age": 36}')
    with pytest.raises(InvalidRequestError, match=message):
        client.chat(ASK, **kwargs)
    assert fake.calls == []


def test_the_container_client_parses_too() -> None:
    fake = FakeProvider(['```json\n{"name": "Ada", "age": 36}\n```'], strict_json=False)
    with container.chat_client.override(providers.Object(ChatClient(fake, "fake-model"))):
        parsed = get_chat_client().chat(ASK, response_model=Person).parsed
    assert parsed == Person(name="Ada", age=36)


# -- chat_validated: custom validators ------------------------------------------------------


def _adult(data: Any) -> int:
    age = data.get("age") if isinstance(data, dict) else None
    if not isinstance(age, int) or age < 18:
        raise OutputValidationError([f"age: must be an integer of at least 18, got {age!r}"])
    return age


def test_chat_validated_reasks_on_a_custom_validation_error() -> None:
    fake, client = chat_client({"age": 12}, {"age": 40})
    assert chat_validated(client, ASK, _adult) == 40
    assert (
        "age: must be an integer of at least 18, got 12" in fake.last_request.messages[-1].content
    )
    assert dict(fake.last_request.response_format or {}) == JSON_MODE


def test_chat_validated_reasks_a_reply_that_is_not_json() -> None:
    fake, client = chat_client("Forty.", {"age": 40})
    assert chat_validated(client, ASK, _adult) == 40
    assert len(fake.calls) == 2


# -- asyncio twins --------------------------------------------------------------------------


async def test_async_response_model_with_reask() -> None:
    fake, client = async_chat_client('Sure: {"name": "Ada"}', '{"name": "Ada", "age": 36}')
    response = await client.chat(ASK, response_model=Person)
    assert response.parsed == Person(name="Ada", age=36)
    assert "age: Field required" in fake.last_request.messages[-1].content


async def test_async_still_invalid_raises_with_raw_text() -> None:
    _, client = async_chat_client("no", "still no")
    with pytest.raises(ResponseParseError) as info:
        await client.chat(ASK, response_format=JSON_MODE)
    assert info.value.raw_text == "still no"


async def test_async_refusal_is_a_content_filter_error() -> None:
    _, client = async_chat_client(reply(refusal="No."))
    with pytest.raises(ContentFilterError):
        await client.chat(ASK, response_model=Person)


async def test_async_chat_validated_and_the_container() -> None:
    fake = FakeProvider([{"age": 3}, {"age": 33}], strict_json=False)
    override = providers.Object(AsyncChatClient(fake, "fake-model"))
    with container.async_chat_client.override(override):
        assert await achat_validated(get_async_chat_client(), ASK, _adult) == 33
    assert len(fake.calls) == 2
