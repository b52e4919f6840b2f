"""run_tools / arun_tools on the fake provider, through the container's facades."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from persona_llm import (
    Capabilities,
    ChatMessage,
    InvalidRequestError,
    ToolCall,
    get_async_chat_client,
    get_chat_client,
)
from persona_llm.clients import ChatClient
from persona_llm.features.tools import ToolStepLimitError, arun_tools, run_tools, tool
from persona_llm.testing import FakeChatClient, FakeProvider, override_llm

ASK = [{"role": "user", "content": "Weather in Paris and Rome?"}]
seen: list[tuple[str, Any]] = []


def get_weather(city: str, when: datetime.date | None = None) -> dict[str, Any]:
    """Weather of a city.

    Args:
        city: The city.
        when: The day (today when left out).
    """
    seen.append((city, when))
    return {"city": city, "celsius": 18}


def broken(city: str) -> str:
    """Always fails."""
    raise RuntimeError(f"no station in {city}")


def call(name: str, call_id: str = "c1", **arguments: Any) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    seen.clear()
    with override_llm() as fake:
        yield fake


def tool_messages(fake: FakeProvider) -> list[ChatMessage]:
    return [m for m in fake.last_request.messages if m.role == "tool"]


def test_parallel_calls_run_and_their_results_go_back_until_a_text_answer(
    fake: FakeProvider,
) -> None:
    fake.enqueue(
        [call("get_weather", "c1", city="Paris"), call("get_weather", "c2", city="Rome")],
        "Both are at 18 degrees.",
    )
    reply = run_tools(get_chat_client(), ASK, [get_weather], temperature=0)
    assert reply.content == "Both are at 18 degrees."
    assert seen == [("Paris", None), ("Rome", None)]
    first, second = (c.request for c in fake.calls)
    assert first is not None and second is not None
    assert [t.name for t in first.tools] == ["get_weather"]
    assert first.temperature == 0 and second.temperature == 0
    assistant = second.messages[1]
    assert assistant.role == "assistant" and [c.id for c in assistant.tool_calls] == ["c1", "c2"]
    assert [(m.tool_call_id, m.name, m.content) for m in tool_messages(fake)] == [
        ("c1", "get_weather", '{"city":"Paris","celsius":18}'),
        ("c2", "get_weather", '{"city":"Rome","celsius":18}'),
    ]


def test_arguments_are_validated_and_converted_before_the_call(fake: FakeProvider) -> None:
    fake.enqueue(call("get_weather", city="Oslo", when="2025-01-31"), "ok")
    run_tools(get_chat_client(), ASK, [get_weather])
    assert seen == [("Oslo", datetime.date(2025, 1, 31))]


def test_invalid_arguments_are_told_to_the_model(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(call("get_weather", when="soon"), "sorry")
    with caplog.at_level(logging.WARNING, logger="persona_llm.features.tools"):
        run_tools(get_chat_client(), ASK, [get_weather])
    (result,) = tool_messages(fake)
    assert result.content.startswith("Error: invalid arguments for tool 'get_weather'")
    assert "city: Field required" in result.content and "when:" in result.content
    assert seen == []
    assert "invalid arguments" in caplog.text


def test_a_tool_that_raises_returns_the_error_to_the_model_and_logs_it(
    fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(call("broken", city="Paris"), "The station is down.")
    with caplog.at_level(logging.WARNING, logger="persona_llm.features.tools"):
        reply = run_tools(get_chat_client(), ASK, [broken])
    assert reply.content == "The station is down."
    (result,) = tool_messages(fake)
    assert result.content == "Error: RuntimeError: no station in Paris"
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "broken" in record.getMessage() and record.exc_info is not None


def test_an_unknown_tool_name_is_an_error_result(fake: FakeProvider) -> None:
    fake.enqueue(call("get_time"), "I cannot tell the time.")
    run_tools(get_chat_client(), ASK, [get_weather])
    (result,) = tool_messages(fake)
    assert result.content == (
        "Error: there is no tool named 'get_time'; the tools are: get_weather"
    )


def test_the_step_limit_raises_with_the_conversation_so_far(fake: FakeProvider) -> None:
    fake.enqueue(*(call("get_weather", f"c{i}", city="Paris") for i in range(3)))
    with pytest.raises(ToolStepLimitError, match="max_steps=2") as caught:
        run_tools(get_chat_client(), ASK, [get_weather], max_steps=2)
    error = caught.value
    assert (error.max_steps, error.provider, error.model) == (2, "fake", "fake")
    assert [m.role for m in error.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert error.response.tool_calls[0].id == "c1"
    assert len(fake.calls) == 2


def test_tool_choice_applies_to_the_first_call_only(fake: FakeProvider) -> None:
    fake.enqueue(call("get_weather", city="Paris"), "done")
    run_tools(get_chat_client(), ASK, [get_weather], tool_choice="required")
    choices = [c.request.tool_choice for c in fake.calls if c.request is not None]
    assert choices == ["required", None]


def test_a_text_answer_needs_no_tool_run(fake: FakeProvider) -> None:
    fake.enqueue("No tools needed.")
    assert run_tools(get_chat_client(), ASK, [get_weather]).content == "No tools needed."
    assert len(fake.calls) == 1


def test_tools_need_a_function_and_sync_loops_refuse_coroutines() -> None:
    async def slow(city: str) -> str:
        return city

    client = FakeChatClient()
    with pytest.raises(InvalidRequestError, match="no Python function"):
        run_tools(client, ASK, [{"name": "search"}])
    with pytest.raises(InvalidRequestError, match="use arun_tools"):
        run_tools(client, ASK, [slow])
    with pytest.raises(InvalidRequestError, match="max_steps"):
        run_tools(client, ASK, [get_weather], max_steps=0)
    assert client.calls == []


def test_a_schema_tool_runs_with_the_function_given_to_it(fake: FakeProvider) -> None:
    spec = {"name": "lookup", "parameters": {"type": "object", "properties": {}}}
    fake.enqueue(call("lookup"), "done")
    run_tools(get_chat_client(), ASK, [tool(spec, function=lambda: "found")])
    assert tool_messages(fake)[0].content == "found"


async def test_arun_tools_awaits_coroutines_and_threads_plain_functions(
    fake: FakeProvider,
) -> None:
    async def forecast(city: str) -> str:
        """Forecast."""
        await asyncio.sleep(0)
        return f"rain in {city}"

    fake.enqueue(
        [call("forecast", "c1", city="Oslo"), call("get_weather", "c2", city="Rome")],
        "Rain and sun.",
    )
    reply = await arun_tools(get_async_chat_client(), ASK, [forecast, get_weather])
    assert reply.content == "Rain and sun."
    assert [m.content for m in tool_messages(fake)] == [
        "rain in Oslo",
        '{"city":"Rome","celsius":18}',
    ]


async def test_arun_tools_has_the_same_step_limit(fake: FakeProvider) -> None:
    fake.enqueue(call("get_weather", city="Paris"))
    with pytest.raises(ToolStepLimitError):
        await arun_tools(get_async_chat_client(), ASK, [get_weather], max_steps=1)


# -- the chat client with tools -------------------------------------------------------------


class NoTools(FakeProvider):
    capabilities: ClassVar[Capabilities] = Capabilities(chat=True, tools=False)


def test_a_provider_without_tools_refuses_them_before_the_call() -> None:
    adapter = NoTools()
    with pytest.raises(InvalidRequestError, match="does not support tool calling") as caught:
        ChatClient(adapter, "m").chat(ASK, tools=[get_weather])
    assert (caught.value.provider, caught.value.model) == ("fake", "m")
    assert adapter.calls == []


def test_the_client_normalizes_tools_and_tool_choice() -> None:
    client = FakeChatClient(["ok"])
    client.chat(ASK, tools=[get_weather], tool_choice={"type": "tool", "name": "get_weather"})
    request = client.last_request
    assert request.tools[0].name == "get_weather" and request.tool_choice == "get_weather"
    with pytest.raises(InvalidRequestError, match="not one of the tools") as caught:
        client.chat(ASK, tools=[get_weather], tool_choice="search")
    assert caught.value.provider == "fake"


class Weather(BaseModel):
    city: str
    celsius: int


def test_structured_output_with_tools_returns_tool_calls_unparsed_then_parses() -> None:
    client = FakeChatClient([call("get_weather", city="Paris"), {"city": "Paris", "celsius": 18}])
    reply = run_tools(client, ASK, [get_weather], response_model=Weather)
    assert reply.parsed == Weather(city="Paris", celsius=18)
    first = client.calls[0].request
    assert first is not None and first.json_mode


def test_chat_in_json_mode_returns_a_tool_call_reply_unparsed() -> None:
    client = FakeChatClient([call("get_weather", city="Paris")])
    reply = client.chat(ASK, tools=[get_weather], response_model=Weather)
    assert (reply.finish_reason, reply.parsed) == ("tool_calls", None)
    assert len(client.calls) == 1  # not re-asked
