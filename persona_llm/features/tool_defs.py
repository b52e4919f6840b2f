"""Tool definitions: `tool` builds a `Tool` from a Python function, a pydantic model or a
schema dict; `to_tools` and `to_tool_choice` normalize what ``tools=`` and ``tool_choice=``
accept. `persona_llm.features.tools` re-exports them beside the tool loop.

`tool` turns any of these into a `Tool` (name, description, JSON-schema parameters):

* a plain function: the name is the function's, the description its docstring's summary, the
  parameters come from the type hints (through pydantic, so ``Optional``, ``list[...]``,
  ``Literal``, enums, dataclasses and pydantic models work) with each argument's description
  from the Google-style ``Args:`` section; parameters with a default are optional;
* a pydantic model class: its fields are the parameters, its docstring the description;
* a dict: ``{"name", "description", "parameters"}`` (or Anthropic's ``input_schema``), or
  OpenAI's ``{"type": "function", "function": {...}}``.

``tool_choice`` is normalized by `to_tool_choice` to ``"auto"``, ``"none"``, ``"required"``
(``"any"`` is accepted for it) or one tool's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

from pydantic import BaseModel

from persona_llm.errors import InvalidRequestError
from persona_llm.features.tool_schema import (
    build_tool,
    dict_tool,
    function_tool,
    model_tool,
)
from persona_llm.types import TOOL_CHOICE_MODES, Tool, ToolChoice

__all__ = ["ToolChoiceLike", "ToolLike", "to_tool_choice", "to_tools", "tool"]

ToolLike = Union[Tool, Callable[..., Any], type[BaseModel], Mapping[str, Any]]  # noqa: UP007
"""What ``tools=`` accepts: a `Tool`, a function, a pydantic model class or a schema dict."""

ToolChoiceLike = Union[str, Tool, Callable[..., Any], Mapping[str, Any]]  # noqa: UP007
"""What ``tool_choice=`` accepts: a mode, a tool name, a tool, or a provider-style dict."""


def tool(
    obj: ToolLike,
    *,
    name: str | None = None,
    description: str | None = None,
    function: Callable[..., Any] | None = None,
) -> Tool:
    """A `Tool` from a function, a pydantic model class, a schema dict or a `Tool`.

    Args:
        obj: what to describe.
        name: overrides the derived name.
        description: overrides the derived description.
        function: the Python function `run_tools` calls (a function `obj` is its own).

    Raises:
        InvalidRequestError: `obj` cannot be described as a tool (the message says why).
    """
    if isinstance(obj, Tool):
        result = obj
    elif isinstance(obj, type) and issubclass(obj, BaseModel):
        result = model_tool(obj, name)
    elif isinstance(obj, Mapping):
        result = dict_tool({**obj, **({"name": name} if name else {})})
    elif callable(obj):
        result = function_tool(obj, name)
    else:
        raise InvalidRequestError(
            f"cannot make a tool of {type(obj).__name__!r}: pass a function, a pydantic model "
            "class, a dict {'name', 'description', 'parameters'} or a Tool"
        )
    updates = {"name": name, "description": description, "function": function}
    updates = {key: value for key, value in updates.items() if value is not None}
    return build_tool(**{**dict(result), **updates}) if updates else result


def _indexed_tool(index: int, item: ToolLike) -> Tool:
    try:
        return tool(item)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"tools[{index}]: {exc.message}") from None


def to_tools(tools: Iterable[ToolLike] | None) -> tuple[Tool, ...]:
    """Every tool normalized; None or an empty list gives ``()``.

    Raises:
        InvalidRequestError: a tool is malformed, or two tools share a name.
    """
    if tools is None:
        return ()
    if (
        isinstance(tools, (str, bytes, Mapping))
        or callable(tools)
        or not hasattr(tools, "__iter__")
    ):
        raise InvalidRequestError("tools must be a list, e.g. tools=[get_weather]")
    result = tuple(_indexed_tool(index, item) for index, item in enumerate(tools))
    names = [item.name for item in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidRequestError(f"tool names must be unique; repeated: {duplicates}")
    return result


def _choice_name(choice: ToolChoiceLike) -> str:
    if isinstance(choice, str):
        return "required" if choice == "any" else choice
    if isinstance(choice, Tool):
        return choice.name
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        function = choice.get("function")
        if kind == "function" and isinstance(function, Mapping) and function.get("name"):
            return str(function["name"])  # OpenAI
        if kind == "tool" and choice.get("name"):
            return str(choice["name"])  # Anthropic
        if kind in ("auto", "none", "any", "required"):
            return "required" if kind == "any" else str(kind)
        raise InvalidRequestError(f"tool_choice {dict(choice)!r} is not understood")
    name = getattr(choice, "__name__", None)
    if callable(choice) and name:
        return str(name)
    raise InvalidRequestError(f"tool_choice of type {type(choice).__name__} is not understood")


def to_tool_choice(choice: ToolChoiceLike | None, tools: Iterable[Tool]) -> ToolChoice | None:
    """``"auto"``, ``"none"``, ``"required"``, or the name of one of `tools`; None: not sent.

    Raises:
        InvalidRequestError: a choice without tools, or naming a tool that is not given.
    """
    if choice is None:
        return None
    name = _choice_name(choice)
    names = [item.name for item in tools]
    if not names:
        raise InvalidRequestError("tool_choice needs tools: pass tools=[...] as well")
    if name not in TOOL_CHOICE_MODES and name not in names:
        raise InvalidRequestError(
            f"tool_choice {name!r} is not one of the tools ({', '.join(names)}); use "
            "'auto', 'none', 'required' or a tool's name"
        )
    return name


# -- the tool-calling loop ------------------------------------------------------------------
