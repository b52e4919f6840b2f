"""Pure mapping of tools, tool calls and tool results to Anthropic's Messages API shapes.

Part of the Anthropic mapping (`_anthropic_map` documents the rules), kept apart to keep
modules small. No SDK import, no I/O.

* A `Tool` is ``{"name", "description", "input_schema"}``; ``tool_choice`` ``auto``,
  ``none``, ``required`` and a name become ``{"type": "auto" | "none" | "any" | "tool"}``.
* An assistant message with tool calls is a turn of content blocks: the thinking blocks the
  reply came with (kept in the first call's ``provider_data["anthropic"]["thinking"]``; the
  API wants them back when thinking is on), the text, then one ``tool_use`` block per call.
* A ``tool`` message is a ``tool_result`` block in a user turn; consecutive results (and a
  user message after them) share one user turn, results first, as the API requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from persona_llm.providers.anthropic.parts import to_anthropic_blocks
from persona_llm.types import ChatMessage, Tool, ToolCall

__all__ = [
    "THINKING_KEY",
    "field_of",
    "json_tool_choice",
    "merge_content",
    "message_turn",
    "reasoning_text",
    "thinking_block",
    "thinking_data",
    "to_anthropic_tool_choice",
    "to_anthropic_tools",
    "with_thinking",
]

THINKING_KEY = "thinking"
"""Key of the thinking blocks in ``ToolCall.provider_data["anthropic"]``."""

# Blocks the API wants at the start of a turn: thinking in assistant turns, results in user turns.
_LEADING_BLOCKS = {"thinking", "redacted_thinking", "tool_result"}


def to_anthropic_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` of a request."""
    result: list[dict[str, Any]] = []
    for tool in tools:
        spec: dict[str, Any] = {"name": tool.name}
        if tool.description:
            spec["description"] = tool.description
        spec["input_schema"] = tool.parameters
        result.append(spec)
    return result


def to_anthropic_tool_choice(choice: str) -> dict[str, Any]:
    """A normalized tool choice as Anthropic's ``tool_choice``."""
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def json_tool_choice(choice: str | None, json_tool: str) -> dict[str, Any]:
    """``tool_choice`` in forced-tool JSON mode when the caller gave tools too.

    The answer comes through a tool either way: a caller's tool, or `json_tool` with the
    final answer. ``auto``/``required``/None let the model pick among all of them, ``none``
    forces the JSON answer, a tool name forces that tool.
    """
    if choice in (None, "auto", "required"):
        return {"type": "any"}
    if choice == "none":
        return {"type": "tool", "name": json_tool}
    return {"type": "tool", "name": choice}


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    content = message.content
    return content if type(content) is str else to_anthropic_blocks(content)


def message_turn(message: ChatMessage) -> tuple[str, str | list[dict[str, Any]]]:
    """The role and content of a non-system message (a str for plain text)."""
    if message.role == "tool":
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.content:
            block["content"] = _content(message)
        if message.is_error:
            block["is_error"] = True
        return "user", [block]
    thinking = list(message.provider_data.get("anthropic", {}).get(THINKING_KEY, []))
    if not message.tool_calls and not thinking:
        return message.role, _content(message)
    blocks: list[dict[str, Any]] = thinking
    for call in message.tool_calls:
        blocks += call.provider_data.get("anthropic", {}).get(THINKING_KEY, [])
    blocks += _blocks(_content(message))
    blocks += [_tool_use(call) for call in message.tool_calls]
    return "assistant", blocks


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def merge_content(
    first: str | list[dict[str, Any]], second: str | list[dict[str, Any]]
) -> str | list[dict[str, Any]]:
    """Two consecutive same-role contents as one: texts joined by a blank line, blocks
    concatenated with thinking and tool results moved to the front (stable)."""
    if isinstance(first, str) and isinstance(second, str):
        return first + "\n\n" + second
    blocks = _blocks(first) + _blocks(second)
    return sorted(blocks, key=lambda block: block.get("type") not in _LEADING_BLOCKS)


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK model or of the same reply as a plain dict."""
    # Plain type checks and one getattr: an ABC isinstance per field read (Mapping, or
    # pydantic's BaseModel) was a fifth of the reply mapping's time.
    if isinstance(obj, dict):  # a concrete class: as fast as a type check (and RawReply)
        return obj.get(name, default)
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name, default) if isinstance(obj, Mapping) else default


_MISSING: Any = object()


def thinking_block(block: Any) -> dict[str, Any] | None:
    """A reply's ``thinking``/``redacted_thinking`` block as the dict to send back."""
    kind = field_of(block, "type")
    if kind == "thinking":
        return {
            "type": "thinking",
            "thinking": field_of(block, "thinking") or "",
            "signature": field_of(block, "signature") or "",
        }
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": field_of(block, "data") or ""}
    return None


def reasoning_text(thinking: list[dict[str, Any]]) -> str | None:
    """The reply's thinking text (blocks joined by a blank line), None when there is none."""
    texts = [block["thinking"] for block in thinking if block.get("thinking")]
    return "\n\n".join(texts) if texts else None


def thinking_data(calls: list[ToolCall], thinking: list[dict[str, Any]]) -> dict[str, Any]:
    """`ChatResponse.provider_data` of a reply: its thinking blocks when no tool call keeps
    them (the API wants them back on the next turn while thinking is on)."""
    return {"anthropic": {THINKING_KEY: thinking}} if thinking and not calls else {}


def with_thinking(calls: list[ToolCall], thinking: list[dict[str, Any]]) -> list[ToolCall]:
    """`calls` with the reply's thinking blocks kept on the first call (for the next turn).

    A reply without tool calls keeps them in `ChatResponse.provider_data` instead.
    """
    if not calls or not thinking:
        return calls
    data = {"anthropic": {THINKING_KEY: thinking}}
    return [calls[0].model_copy(update={"provider_data": data}), *calls[1:]]
