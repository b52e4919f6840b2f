"""Every wrong argument to a public function is an `LLMError` naming the parameter, raised
before anything is sent; unknown keywords are refused with the closest known names; options of
one provider reach only that provider."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from persona_llm import (
    AsyncChatClient,
    AsyncEmbeddingClient,
    ChatClient,
    ConfigurationError,
    EmbeddingClient,
    InvalidRequestError,
    LLMError,
    get_async_chat_client,
    get_chat_client,
    track_usage,
)
from persona_llm.providers.fake import FakeProvider

HELLO = [{"role": "user", "content": "hi"}]


class Answer(BaseModel):
    text: str


# For every parameter of every public function below: values of the wrong type or range.
WRONG: dict[str, list[Any]] = {
    "messages": [None, 5, {"role": "user", "content": "hi"}, [5], [{"role": "user"}]],
    "temperature": ["hot", float("nan"), float("inf"), True, -1, [0.2]],
    "max_tokens": ["ten", 1.5, 0, True, [10]],
    "response_format": ["json", 5, ["json_object"]],
    "stop": [5, [1], {"a": "b"}],
    "response_model": [dict, "Answer", Answer(text="x")],
    "max_reasks": ["x", -1, 1.5],
    "tools": [5, "get_weather", [5]],
    "tool_choice": [5, "sometimes", ["auto"]],
    "texts": [None, "one text", [1], {"a": "b"}, 5],
    "reasoning": ["extreme", 3, True],
    "cache_prompt": ["yes", 1, None],
    "task": [5, ["extraction"]],
    "budget_usd": ["ten", float("nan"), -1],
}


def _clients() -> dict[str, Any]:
    fake = FakeProvider()
    return {
        "ChatClient": ChatClient(fake, "echo"),
        "AsyncChatClient": AsyncChatClient(fake, "echo"),
        "EmbeddingClient": EmbeddingClient(fake, "echo"),
        "AsyncEmbeddingClient": AsyncEmbeddingClient(fake, "echo"),
    }


PUBLIC: list[tuple[str, str]] = [
    ("ChatClient", "chat"),
    ("ChatClient", "stream"),
    ("AsyncChatClient", "chat"),
    ("AsyncChatClient", "stream"),
    ("EmbeddingClient", "embeddings"),
    ("AsyncEmbeddingClient", "embeddings"),
]


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = function(*args, **kwargs)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if inspect.isasyncgen(result) or hasattr(result, "__anext__"):
        return result  # a stream is refused when it is created, not when iterated
    return result


def _cases() -> list[Any]:
    cases = []
    for owner, method in PUBLIC:
        signature = inspect.signature(getattr(_clients()[owner], method))
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                continue
            assert name in WRONG, f"{owner}.{method}({name}=...) has no wrong values in WRONG"
            for value in WRONG[name]:
                cases.append(
                    pytest.param(
                        owner, method, name, value, id=f"{owner}.{method}-{name}-{value!r}"
                    )
                )
    return cases


@pytest.mark.parametrize(("owner", "method", "name", "value"), _cases())
def test_a_wrong_argument_is_an_invalid_request_naming_it(
    owner: str, method: str, name: str, value: Any
) -> None:
    client = _clients()[owner]
    function = getattr(client, method)
    first = "texts" if method == "embeddings" else "messages"
    args = {first: ["a"] if first == "texts" else HELLO}
    args[name] = value
    positional = args.pop(first)
    with pytest.raises(InvalidRequestError) as caught:
        _call(function, positional, **args)
    assert name in str(caught.value) or (name == "messages" and "message" in str(caught.value))
    assert client.adapter.calls == []  # nothing was sent


@pytest.mark.parametrize("value", WRONG["task"])
def test_facades_refuse_a_wrong_task(value: Any) -> None:
    for facade in (get_chat_client, get_async_chat_client):
        with pytest.raises(LLMError, match="task"):  # a ConfigurationError, as for LLM_ROUTES
            facade(value)


@pytest.mark.parametrize("value", WRONG["budget_usd"])
def test_track_usage_refuses_a_wrong_budget(value: Any) -> None:
    with pytest.raises(LLMError, match="budget_usd"), track_usage(value):
        pass


def test_errors_of_bad_arguments_are_value_errors_too() -> None:
    client = ChatClient(FakeProvider(), "echo")
    with pytest.raises(ValueError, match="temperature"):
        client.chat(HELLO, temperature="hot")
    assert issubclass(ConfigurationError, ValueError)


def test_a_dict_instead_of_a_list_says_to_wrap_it() -> None:
    client = ChatClient(FakeProvider(), "echo")
    with pytest.raises(InvalidRequestError, match=r"one message: wrap it in a list"):
        client.chat({"role": "user", "content": "hi"})  # type: ignore[arg-type]


# -- unknown keywords and provider_options --------------------------------------------------


def test_a_misspelled_option_is_refused_with_the_closest_names() -> None:
    client = ChatClient(FakeProvider(), "echo")
    with pytest.raises(
        InvalidRequestError,
        match=r"unknown keyword argument `temprature`; did you mean `temperature`\?",
    ):
        client.chat(HELLO, temprature=0.2)
    with pytest.raises(InvalidRequestError, match=r"did you mean `max_tokens`"):
        list(client.stream(HELLO, max_token=5))
    assert client.adapter.calls == []


def test_a_provider_specific_option_says_where_it_goes() -> None:
    client = ChatClient(FakeProvider(), "echo")
    with pytest.raises(InvalidRequestError, match=r"provider_options=\{'anthropic': \{'thinking'"):
        client.chat(HELLO, thinking={"type": "enabled", "budget_tokens": 1024})


def test_provider_options_reach_only_their_provider() -> None:
    fake = FakeProvider()
    client = ChatClient(fake, "echo")
    client.chat(
        HELLO,
        top_p=0.5,
        provider_options={"fake": {"marker": 1}, "anthropic": {"thinking": {"type": "enabled"}}},
    )
    assert dict(fake.calls[-1].request.options) == {"top_p": 0.5, "marker": 1}


@pytest.mark.parametrize(
    ("sections", "match"),
    [
        ("anthropic", "provider_options must be a dict keyed by provider"),
        ({"antropic": {}}, r"unknown provider 'antropic'; did you mean `anthropic`"),
        ({"anthropic": "thinking"}, r"provider_options\['anthropic'\] must be a dict"),
    ],
)
def test_malformed_provider_options_are_refused(sections: Any, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        ChatClient(FakeProvider(), "echo").chat(HELLO, provider_options=sections)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("top_p", 2),
        ("top_p", "high"),
        ("n", 0),
        ("seed", "x"),
        ("extra_body", [1]),
        ("presence_penalty", 9),
    ],
)
def test_common_options_are_checked(option: str, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match=option):
        ChatClient(FakeProvider(), "echo").chat(HELLO, **{option: value})


def test_run_tools_refuses_an_unknown_keyword_too() -> None:
    from persona_llm.features.tools import run_tools

    def get_weather(city: str) -> str:
        """Weather of a city."""
        return "sunny"

    with pytest.raises(InvalidRequestError, match="did you mean `temperature`"):
        run_tools(ChatClient(FakeProvider(), "echo"), HELLO, [get_weather], temperatur=0)
