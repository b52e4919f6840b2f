"""Tools from functions, pydantic models and dicts; tool_choice; tool messages and calls."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from persona_llm import ChatMessage, ChatResponse, InvalidRequestError, ToolCall
from persona_llm.features.tools import Tool, to_tool_choice, to_tools, tool
from persona_llm.messages import to_messages


def get_weather(city: str, days: int = 1, unit: Optional[str] = None) -> str:  # noqa: UP045
    """Get the weather forecast for a city.

    Uses the national weather service.

    Args:
        city: The city name,
            e.g. "Paris".
        days (int): How many days ahead.
        unit: "C" or "F"; the city's own unit when left out.

    Returns:
        The forecast as text.
    """
    return f"sunny in {city}"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    city: str


def test_a_function_becomes_a_tool_with_its_docstring_and_type_hints() -> None:
    result = tool(get_weather)
    assert result.name == "get_weather"
    assert result.description == (
        "Get the weather forecast for a city.\n\nUses the national weather service."
    )
    assert result.function is get_weather
    assert result.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
            "days": {"type": "integer", "default": 1, "description": "How many days ahead."},
            "unit": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "description": '"C" or "F"; the city\'s own unit when left out.',
            },
        },
        "required": ["city"],
    }


def test_lists_literals_enums_and_nested_models_get_their_schema() -> None:
    def plan(
        stops: list[str],
        mode: Literal["car", "train"],
        color: Color,
        home: Address,
        when: datetime.date,
        tags: Annotated[list[int], Field(description="Numeric tags.")] = [],  # noqa: B006
    ) -> None:
        """Plan a trip."""

    properties = tool(plan).parameters["properties"]
    assert properties["stops"] == {"type": "array", "items": {"type": "string"}}
    assert properties["mode"] == {"type": "string", "enum": ["car", "train"]}
    assert properties["color"] == {"$ref": "#/$defs/Color"}
    assert properties["home"] == {"$ref": "#/$defs/Address"}
    assert properties["when"] == {"type": "string", "format": "date"}
    assert properties["tags"]["description"] == "Numeric tags."
    defs = tool(plan).parameters["$defs"]
    assert defs["Address"]["properties"]["street"] == {"type": "string"}
    assert "title" not in defs["Address"]
    assert tool(plan).parameters["required"] == ["stops", "mode", "color", "home", "when"]


def test_a_parameter_named_title_or_json_is_kept() -> None:
    def save(title: str, json: str, schema: int = 0) -> None:
        """Save."""

    parameters = tool(save).parameters
    assert list(parameters["properties"]) == ["title", "json", "schema"]
    assert parameters["properties"]["title"] == {"type": "string"}


def test_a_function_without_docstring_or_hints_still_works() -> None:
    def anything(x, y=2):  # type: ignore[no-untyped-def]
        return x

    result = tool(anything)
    assert result.description == ""
    assert result.parameters["required"] == ["x"]
    assert result.parameters["properties"]["y"] == {"default": 2}


def test_name_and_description_can_be_overridden() -> None:
    result = tool(get_weather, name="forecast", description="Forecast.")
    assert (result.name, result.description) == ("forecast", "Forecast.")


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (lambda city: city, "needs a tool name"),
        (lambda *cities: None, "needs a tool name"),
    ],
)
def test_lambdas_need_a_name(function: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        tool(function)


def test_star_args_and_positional_only_parameters_are_refused() -> None:
    def many(*cities: str) -> None: ...

    def positional(city: str, /) -> None: ...

    with pytest.raises(InvalidRequestError, match="named parameters only"):
        tool(many)
    with pytest.raises(InvalidRequestError, match="positional-only"):
        tool(positional)


def test_a_pydantic_model_becomes_a_tool() -> None:
    class RecordPerson(BaseModel):
        """Record a person mentioned in the text."""

        name: str = Field(description="Full name.")
        age: Optional[int] = None  # noqa: UP045

    result = tool(RecordPerson)
    assert result.name == "RecordPerson"
    assert result.description == "Record a person mentioned in the text."
    assert result.function is None
    assert result.parameters["properties"]["name"] == {
        "type": "string",
        "description": "Full name.",
    }
    assert result.parameters["required"] == ["name"]


SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "search", "description": "Search.", "parameters": SCHEMA},
        {"name": "search", "description": "Search.", "input_schema": SCHEMA},
        {
            "type": "function",
            "function": {"name": "search", "description": "Search.", "parameters": SCHEMA},
        },
    ],
)
def test_schema_dicts_in_every_common_form(spec: dict[str, Any]) -> None:
    assert tool(spec) == Tool(name="search", description="Search.", parameters=SCHEMA)


def test_a_dict_without_parameters_takes_no_arguments_and_strict_is_kept() -> None:
    result = tool({"type": "function", "function": {"name": "now", "strict": True}})
    assert result.parameters == {"type": "object", "properties": {}}
    assert result.strict is True


def test_a_dict_tool_can_be_given_a_function() -> None:
    result = tool({"name": "forecast", "parameters": SCHEMA}, function=get_weather)
    assert result.function is get_weather


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "web_search_20250305", "name": "web_search"}, "unknown keys"),
        ({"name": "bad name!"}, "not valid"),
        ({"name": "auto"}, "reserved"),
        ({"name": "x", "parameters": {"type": "array"}}, "type 'object'"),
        ({"description": "no name"}, "name"),
    ],
)
def test_malformed_dicts_say_what_is_wrong(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        tool(spec)


def test_to_tools_normalizes_and_refuses_duplicates_and_non_lists() -> None:
    tools = to_tools([get_weather, {"name": "search", "parameters": SCHEMA}])
    assert [t.name for t in tools] == ["get_weather", "search"]
    assert to_tools(None) == ()
    with pytest.raises(InvalidRequestError, match="unique"):
        to_tools([get_weather, get_weather])
    with pytest.raises(InvalidRequestError, match="must be a list"):
        to_tools(get_weather)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="cannot make a tool of 'int'"):
        to_tools([3])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        ("get_weather", "get_weather"),
        (get_weather, "get_weather"),
        ({"type": "function", "function": {"name": "get_weather"}}, "get_weather"),
        ({"type": "tool", "name": "get_weather"}, "get_weather"),
        ({"type": "any"}, "required"),
        ({"type": "auto"}, "auto"),
    ],
)
def test_tool_choice_is_normalized(choice: Any, expected: str) -> None:
    assert to_tool_choice(choice, to_tools([get_weather])) == expected


def test_tool_choice_must_name_a_given_tool() -> None:
    tools = to_tools([get_weather])
    assert to_tool_choice(None, tools) is None
    with pytest.raises(InvalidRequestError, match="not one of the tools"):
        to_tool_choice("search", tools)
    with pytest.raises(InvalidRequestError, match="needs tools"):
        to_tool_choice("auto", ())
    with pytest.raises(InvalidRequestError, match="not understood"):
        to_tool_choice({"type": "bogus"}, tools)


# -- messages and calls ---------------------------------------------------------------------


def test_a_tool_message_without_tool_call_id_tells_the_fix() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[1\].*needs tool_call_id.*call\.id"):
        to_messages([{"role": "user", "content": "hi"}, {"role": "tool", "content": "18C"}])


@pytest.mark.parametrize(
    "bad",
    [
        {"role": "user", "content": "hi", "tool_call_id": "c1"},
        {"role": "user", "content": "hi", "tool_calls": [{"id": "c", "name": "f"}]},
        {"role": "assistant"},
    ],
)
def test_tool_fields_on_the_wrong_role_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]"):
        to_messages([bad])


def test_assistant_tool_call_messages_may_have_no_content_and_openai_shapes() -> None:
    (message,) = to_messages(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            }
        ]
    )
    assert message.content == ""
    assert message.tool_calls == (
        ToolCall(id="call_1", name="get_weather", arguments={"city": "Oslo"}),
    )


def test_provider_data_is_opaque_out_of_repr_and_equality_but_dumped() -> None:
    signed = ToolCall(id="c", name="f", provider_data={"gemini": {"thought_signature": "c2ln"}})
    assert signed == ToolCall(id="c", name="f")
    assert "c2ln" not in repr(signed)
    message = ChatMessage(role="assistant", content="", tool_calls=(signed,))
    restored = ChatMessage.model_validate_json(message.model_dump_json())
    assert restored.tool_calls[0].provider_data == {"gemini": {"thought_signature": "c2ln"}}


def test_plain_messages_dump_and_print_as_before() -> None:
    message = ChatMessage(role="user", content="hi")
    assert message.model_dump() == {"role": "user", "content": "hi"}
    assert repr(message) == "ChatMessage(role='user', content='hi')"


def test_a_reply_becomes_the_assistant_message_with_its_calls() -> None:
    call = ToolCall(id="c", name="f", arguments={"a": 1}, provider_data={"x": {"y": 1}})
    reply = ChatResponse(content="Let me look.", model="m", provider="p", tool_calls=[call])
    message = reply.to_message()
    assert (message.role, message.content) == ("assistant", "Let me look.")
    assert message.tool_calls[0].provider_data == {"x": {"y": 1}}


def test_overrides_of_a_tool_are_validated_too() -> None:
    base = tool(get_weather)
    assert tool(base, name="forecast").function is get_weather
    with pytest.raises(InvalidRequestError, match="not valid"):
        tool(base, name="bad name!")


def test_a_tool_whose_hints_cannot_be_resolved_is_refused() -> None:
    from persona_llm.errors import InvalidRequestError
    from persona_llm.features.tools import tool as make_tool

    def lookup(city: UndefinedCityType) -> str:  # type: ignore[name-defined]  # noqa: F821
        """Look a city up."""
        return city

    with pytest.raises(InvalidRequestError, match="type hints of tool 'lookup'"):
        make_tool(lookup)
