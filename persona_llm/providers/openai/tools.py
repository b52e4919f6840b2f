"""Pure mapping of tools and tool calls to and from the OpenAI Chat Completions wire format.

Part of `_openai_map` (which re-exports these names); kept apart to keep modules small.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from persona_llm.providers._raw import field
from persona_llm.providers._tool_calls import parse_arguments
from persona_llm.types import TOOL_CHOICE_MODES, FinishReason, Tool, ToolCall

__all__ = [
    "openai_tool_calls",
    "to_openai_tool_choice",
    "to_openai_tools",
    "tool_calls_finish",
    "wire_tool_call",
]


def wire_tool_call(call: ToolCall) -> dict[str, Any]:
    """A call of an assistant message in the wire format (arguments as JSON text)."""
    if call.provider_data.get("openai", {}).get("type") == "custom":
        custom = {"name": call.name, "input": call.arguments.get("input", "")}
        return {"id": call.id, "type": "custom", "custom": custom}
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def to_openai_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` of a request: one ``function`` tool each."""
    result: list[dict[str, Any]] = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name}
        if tool.description:
            function["description"] = tool.description
        function["parameters"] = tool.parameters
        if tool.strict is not None:
            function["strict"] = tool.strict
        result.append({"type": "function", "function": function})
    return result


def to_openai_tool_choice(choice: str) -> str | dict[str, Any]:
    """``auto``/``none``/``required`` as they are; a tool name forces that function."""
    if choice in TOOL_CHOICE_MODES:
        return choice
    return {"type": "function", "function": {"name": choice}}


def openai_tool_calls(message: Any, provider: str, model: str) -> list[ToolCall]:
    """The `ToolCall`s of a reply message, as JSON data (custom calls and the legacy
    ``function_call``).

    Raises:
        ResponseParseError: a call's arguments are not a JSON object.
        KeyError, TypeError, AttributeError: a call lacks its id, name or arguments (the
            adapters report a malformed reply).
    """
    calls: list[ToolCall] = []
    for call in field(message, "tool_calls") or []:
        if field(call, "type") == "custom":
            # Custom tools take free text, not JSON: keep it under "input", and remember the
            # type so that the call goes back to the API as a custom call.
            custom = call["custom"]
            calls.append(
                ToolCall(
                    id=call["id"],
                    name=custom["name"],
                    arguments={"input": custom["input"]},
                    provider_data={"openai": {"type": "custom"}},
                )
            )
            continue
        function = call["function"]
        name = function["name"]
        arguments = parse_arguments(function["arguments"], name, provider, model)
        calls.append(ToolCall(id=call["id"], name=name, arguments=arguments))
    legacy = field(message, "function_call")
    if legacy is not None and not calls:
        arguments = parse_arguments(legacy["arguments"], legacy["name"], provider, model)
        calls.append(ToolCall(id="", name=legacy["name"], arguments=arguments))
    return calls


def tool_calls_finish(finish: FinishReason | None, has_tool_calls: bool) -> FinishReason | None:
    """``stop`` becomes ``tool_calls`` when the reply calls tools (a forced function)."""
    return "tool_calls" if finish == "stop" and has_tool_calls else finish
