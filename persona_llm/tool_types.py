"""The tool shapes: a `Tool` the model may call and the `ToolCall`s it asks for.

Part of the core; `persona_llm.types` re-exports them beside the message shapes that carry
them. Build a `Tool` with `persona_llm.features.tools.tool`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["TOOL_CHOICE_MODES", "Tool", "ToolCall", "ToolChoice"]

ToolChoice = str
"""A normalized tool choice: ``"auto"``, ``"none"``, ``"required"`` or the name of one tool."""

TOOL_CHOICE_MODES = ("auto", "none", "required")
"""The tool choices that are not a tool's name."""

_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


class ToolCall(BaseModel):
    """A function call the model asked for, with its arguments parsed.

    An OpenAI wire-format call (``{"id", "type": "function", "function": {"name",
    "arguments": "<json>"}}``) is accepted too, so that assistant messages copied from
    OpenAI code validate.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    provider_data: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Opaque data a provider needs back on the next turn, keyed by provider name."""

    @model_validator(mode="before")
    @classmethod
    def _from_openai_shape(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("function"), Mapping):
            function = data["function"]
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):
                arguments = json.loads(arguments) if arguments.strip() else {}
            return {"id": data.get("id"), "name": function.get("name"), "arguments": arguments}
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolCall):
            return NotImplemented
        return (self.id, self.name, self.arguments) == (other.id, other.name, other.arguments)

    __hash__ = None  # type: ignore[assignment]


class Tool(BaseModel):
    """A function the model may call: its name, description and JSON-schema parameters.

    Build one from a Python function, a pydantic model or a schema dict with
    `features.tools.tool`. `function` is the Python callable `run_tools` executes (None for
    tools declared by schema only); it is left out of ``repr()`` and ``model_dump()``.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    """OpenAI's strict function calling (``None``: not sent); other providers ignore it."""
    function: Callable[..., Any] | None = Field(default=None, repr=False, exclude=True)

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _TOOL_NAME.fullmatch(name):
            raise ValueError(
                f"tool name {name!r} is not valid: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or '_' (what every provider accepts)"
            )
        if name in TOOL_CHOICE_MODES:
            raise ValueError(f"tool name {name!r} is reserved for tool_choice; rename the tool")
        return name

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        if parameters.get("type", "object") != "object":
            raise ValueError(
                "tool parameters must be a JSON schema of type 'object' (the named arguments)"
            )
        return parameters
