"""Tool-call helpers shared by the provider mappings: argument parsing and stream assembly.

Pure: no SDK, no I/O. OpenAI streams a call's arguments as JSON fragments keyed by the call's
``index``; Anthropic streams them as ``input_json_delta`` fragments keyed by the content
block's index. `ToolCallAssembler` collects either and parses each call once, at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from persona_llm.errors import ResponseParseError
from persona_llm.types import ToolCall

__all__ = ["ToolCallAssembler", "parse_arguments"]


def parse_arguments(text: str | None, name: str, provider: str, model: str) -> dict[str, Any]:
    """A call's arguments from their JSON text; empty text (a call without arguments) is ``{}``.

    Raises:
        ResponseParseError: the text is not a JSON object.
    """
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResponseParseError(
            f"arguments of the tool call {name!r} are not valid JSON ({exc})",
            provider=provider,
            model=model,
            raw_text=text,
            errors=[str(exc)],
        ) from None
    if not isinstance(value, dict):
        raise ResponseParseError(
            f"arguments of the tool call {name!r} are not a JSON object",
            provider=provider,
            model=model,
            raw_text=text,
        )
    return value


@dataclass
class _Pending:
    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    initial: dict[str, Any] = field(default_factory=dict)


class ToolCallAssembler:
    """Streamed tool calls, assembled in the order they started."""

    def __init__(self) -> None:
        self._calls: dict[Any, _Pending] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(
        self,
        key: Any,
        *,
        id: str | None = None,
        name: str | None = None,
        arguments: str | None = None,
        initial: dict[str, Any] | None = None,
    ) -> None:
        """Record a piece of the call `key`: its id and name (once), an argument fragment.

        `initial` is an argument object that arrived whole (used when no fragment follows).
        """
        pending = self._calls.setdefault(key, _Pending())
        # Some OpenAI-compatible servers repeat the id and name on every fragment: keep one.
        pending.id = pending.id or (id or "")
        pending.name = pending.name or (name or "")
        if arguments:
            pending.fragments.append(arguments)
        if initial:
            pending.initial = dict(initial)

    def calls(self, provider: str, model: str) -> list[ToolCall]:
        """The assembled calls; a call whose fragments were all ``""`` has arguments ``{}``.

        Raises:
            ResponseParseError: a call's arguments are not a JSON object.
        """
        result: list[ToolCall] = []
        for pending in self._calls.values():
            text = "".join(pending.fragments)
            arguments = (
                parse_arguments(text, pending.name, provider, model) if text else pending.initial
            )
            result.append(ToolCall(id=pending.id, name=pending.name, arguments=arguments))
        return result
