"""Pure mapping of tools, function calls and function responses to Gemini's shapes.

Part of the Gemini mapping (`_gemini_map`), kept apart to keep modules small. Outbound values
are plain dicts with google-genai's field names (the adapter validates them into SDK
objects); inbound parts are read from the SDK's model or the JSON body alike
(`persona_llm.providers.gemini.fields`). No SDK import, no I/O.

* Tools are one ``Tool`` with a ``function_declarations`` entry each, parameters sent as
  plain JSON Schema (``parameters_json_schema``; ``parameters`` takes only Google's OpenAPI
  subset). ``tool_choice`` becomes ``tool_config.function_calling_config``: ``auto`` AUTO,
  ``none`` NONE, ``required`` ANY, a tool name ANY with ``allowed_function_names``.
* Gemini usually gives a function call no id: one is synthesized as
  ``call_<index>_<name>`` (index in the reply), stable for the same reply. An id Gemini did
  give is kept, and only such an id is sent back to Gemini.
* The call's ``thoughtSignature`` (base64 text, as on the wire) is kept in
  ``ToolCall.provider_data["gemini"]["thought_signature"]`` and sent back on the function
  call part: Gemini rejects a later turn whose function calls lost their signatures.
  Signatures on text parts are not kept (Gemini does not require them back).
* A tool result is a ``function_response`` part ``{"name", "response": {"output":
  <content>}}`` in a user turn; the name comes from the tool message, else from the
  assistant tool call it answers. A failed tool (``is_error``) answers ``{"error":
  <content>}`` instead, the key Gemini reads as the function's error details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.gemini.fields import get, signature_text
from persona_llm.types import ChatMessage, Tool, ToolCall

__all__ = [
    "function_call_part",
    "function_response_part",
    "gemini_tool_calls",
    "to_gemini_tool_config",
    "to_gemini_tools",
]

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def to_gemini_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` config: one tool holding every function declaration."""
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name}
        if tool.description:
            declaration["description"] = tool.description
        declaration["parameters_json_schema"] = tool.parameters
        declarations.append(declaration)
    return [{"function_declarations": declarations}]


def to_gemini_tool_config(choice: str) -> dict[str, Any]:
    """The ``tool_config`` for a normalized tool choice."""
    if choice in _MODES:
        return {"function_calling_config": {"mode": _MODES[choice]}}
    return {"function_calling_config": {"mode": "ANY", "allowed_function_names": [choice]}}


def gemini_tool_calls(parts: Sequence[Any], start: int = 0) -> list[ToolCall]:
    """`ToolCall`s for the ``function_call`` parts; `start` is the index of the first one
    in the reply (a stream's later events continue the count)."""
    calls: list[ToolCall] = []
    for part in parts:
        function_call = get(part, "function_call", "functionCall")
        if function_call is None:
            continue
        name = get(function_call, "name", "name") or ""
        given_id = get(function_call, "id", "id")
        data: dict[str, Any] = {}
        if given_id:
            data["id"] = given_id
        signature = signature_text(get(part, "thought_signature", "thoughtSignature"))
        if signature:
            data["thought_signature"] = signature
        calls.append(
            ToolCall(
                id=given_id or f"call_{start + len(calls)}_{name}",
                name=name,
                arguments=dict(get(function_call, "args", "args") or {}),
                provider_data={"gemini": data} if data else {},
            )
        )
    return calls


def function_call_part(call: ToolCall) -> dict[str, Any]:
    """A model turn's ``function_call`` part, with its thought signature if it had one."""
    data = call.provider_data.get("gemini", {})
    function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
    if data.get("id"):
        function_call["id"] = data["id"]
    part: dict[str, Any] = {"function_call": function_call}
    if data.get("thought_signature"):
        part["thought_signature"] = data["thought_signature"]  # the SDK decodes base64
    return part


def function_response_part(message: ChatMessage, call: ToolCall | None) -> dict[str, Any]:
    """The ``function_response`` part of a tool message; `call` is the call it answers.

    Raises:
        InvalidRequestError: no tool name is known (no `name` on the message and no earlier
            assistant tool call with its `tool_call_id`).
    """
    name = message.name or (call.name if call is not None else None)
    if not name:
        raise InvalidRequestError(
            f"tool message for call {message.tool_call_id!r}: Gemini needs the tool's name, "
            "and no earlier assistant message has that tool call; pass name='...' on the "
            "tool message",
            provider="gemini",
        )
    key = "error" if message.is_error else "output"
    response: dict[str, Any] = {"name": name, "response": {key: message.text}}
    gemini_id = call.provider_data.get("gemini", {}).get("id") if call is not None else None
    if gemini_id:
        response["id"] = gemini_id
    return {"function_response": response}
