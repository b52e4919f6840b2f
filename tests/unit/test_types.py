"""Messages, responses and usage behave as DESIGN.md §2 describes."""

from __future__ import annotations

import pytest

from persona_llm import ChatMessage, ChatResponse, InvalidRequestError, Usage
from persona_llm.messages import to_messages
from persona_llm.providers.fake import FakeProvider
from persona_llm.types import ChatRequest


def test_dict_messages_are_accepted_and_validated() -> None:
    messages = to_messages(
        [{"role": "system", "content": "Be brief."}, ChatMessage(role="user", content="Hi")]
    )
    assert [m.role for m in messages] == ["system", "user"]


@pytest.mark.parametrize("role", ["system", "user", "assistant"])
def test_plain_dict_messages_build_exactly_what_validation_builds(role: str) -> None:
    # to_messages fills plain {"role", "content"} messages without running validation.
    given = {"role": role, "content": "Hi ✓"}
    (fast,) = to_messages([given])
    validated = ChatMessage.model_validate(given)
    assert fast == validated and hash(fast) == hash(validated)
    assert repr(fast) == repr(validated)
    assert fast.model_dump() == validated.model_dump() == given
    assert fast.model_fields_set == validated.model_fields_set
    assert fast.model_dump_json() == validated.model_dump_json()
    with pytest.raises(ValueError, match="frozen"):
        fast.content = "changed"  # type: ignore[misc]
    assert fast.model_copy(update={"content": "x"}).content == "x"


@pytest.mark.parametrize(
    "bad",
    [
        [{"role": "robot", "content": "hi"}],
        [{"role": "tool", "content": "hi"}],
        [{"role": "user", "content": None}],
        [{"role": "user"}],
        [{"role": "user", "content": "hi", "name": "x"}],
    ],
)
def test_invalid_messages_name_the_index_and_the_expected_shape(bad: list[dict[str, str]]) -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\].*expected"):
        to_messages(bad)


def test_empty_message_list_tells_the_fix() -> None:
    with pytest.raises(InvalidRequestError, match="at least one message"):
        to_messages([])


def test_a_string_instead_of_a_list_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="not a string"):
        to_messages("hello")  # type: ignore[arg-type]


def test_usage_total_is_computed_when_omitted() -> None:
    assert Usage(prompt_tokens=7, completion_tokens=5).total_tokens == 12
    assert Usage(prompt_tokens=7, completion_tokens=5, total_tokens=20).total_tokens == 20


def test_raw_is_out_of_repr_and_equality() -> None:
    a = ChatResponse(content="x", model="m", provider="p", raw={"secret": "sk-shouldnotshow"})
    b = ChatResponse(content="x", model="m", provider="p", raw=object())
    assert a == b
    assert "raw" not in repr(a) and "sk-shouldnotshow" not in repr(a)
    assert a != ChatResponse(content="y", model="m", provider="p")


def test_json_mode_is_derived_from_response_format() -> None:
    messages = to_messages([{"role": "user", "content": "hi"}])
    assert ChatRequest(messages=messages, response_format={"type": "json_object"}).json_mode
    assert not ChatRequest(messages=messages, response_format={"type": "text"}).json_mode
    assert not ChatRequest(messages=messages).json_mode


class _Recording(FakeProvider):
    """The fake, keeping the request exactly as the client built it."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ChatRequest] = []

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return super().chat(model, request)


@pytest.mark.parametrize(
    ("call", "default"),
    [
        ({}, None),
        ({"seed": 7, "top_p": 0.5, "provider_options": {"fake": {"x": [1]}}}, None),
        ({"reasoning": "low"}, "high"),
        ({}, "medium"),
        ({"cache": False, "cache_prompt": True}, None),
    ],
)
def test_a_plain_calls_request_is_exactly_what_validation_builds(
    call: dict[str, object], default: str | None
) -> None:
    # A call without sampling arguments, format, stop or tools gets its ChatRequest
    # filled without running validation again (the messages are checked already).
    from persona_llm.clients import ChatClient

    fake = _Recording()
    client = ChatClient(fake, "fake-model", reasoning=default)  # type: ignore[arg-type]
    given = [{"role": "system", "content": "Be brief."}, ChatMessage(role="user", content="Hi")]
    options = dict(call)
    client.chat(given, **options)  # type: ignore[arg-type]
    (fast,) = fake.requests
    validated = ChatRequest(
        messages=to_messages(given),
        cache=bool(call.get("cache", True)),
        temperature=None,
        max_tokens=None,
        response_format=None,
        stop=None,
        tools=(),
        tool_choice=None,
        options={k: v for k, v in call.items() if k not in ("cache", "cache_prompt", "reasoning")},
        reasoning=call.get("reasoning", default),
        cache_prompt=bool(call.get("cache_prompt", False)),
    )
    assert fast == validated and repr(fast) == repr(validated)
    assert fast.model_fields_set == validated.model_fields_set
    assert list(fast.__dict__) == list(validated.__dict__)  # same field order
    assert fast.model_dump() == validated.model_dump()
    assert type(fast.options) is dict
    with pytest.raises(ValueError, match="frozen"):
        fast.cache = False  # type: ignore[misc]
