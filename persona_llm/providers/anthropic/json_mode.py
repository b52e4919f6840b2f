"""Anthropic JSON mode: the forced ``json_output`` tool, or native output with thinking (pure).

Part of the Anthropic mapping (`persona_llm.providers.anthropic.mapping` documents the
rules), kept apart to keep modules small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.anthropic.tools import json_tool_choice, to_anthropic_tools
from persona_llm.types import ChatRequest

__all__ = ["JSON_TOOL_NAME", "json_mode_params", "request_tools"]

PROVIDER = "anthropic"
JSON_TOOL_NAME = "json_output"


def _thinking_on(options: Mapping[str, Any]) -> bool:
    thinking = options.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") not in (None, "disabled")


def _json_schema(response_format: Mapping[str, Any], model: str) -> dict[str, Any] | None:
    """The caller's schema (OpenAI ``json_schema.schema``), None for ``json_object``."""
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    schema = schema or response_format.get("schema")
    if schema is None:
        return None
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise InvalidRequestError(
            "Anthropic JSON mode needs a schema whose top level is an object "
            '({"type": "object", ...}); wrap other values in a property',
            provider=PROVIDER,
            model=model,
        )
    return dict(schema)


def json_mode_params(
    request: ChatRequest, response_format: Mapping[str, Any], options: dict[str, Any], model: str
) -> dict[str, Any]:
    """Fields that make the reply JSON; pops the options it merges (`tools`, `output_config`)."""
    schema = _json_schema(response_format, model)
    output_config = options.get("output_config")
    caller_format = isinstance(output_config, Mapping) and output_config.get("format")
    if _thinking_on(options) or caller_format:
        if schema is None and not caller_format:
            raise InvalidRequestError(
                "JSON mode with thinking needs a schema on Anthropic: pass response_format="
                '{"type": "json_schema", "json_schema": {"schema": {...}}} or turn thinking off',
                provider=PROVIDER,
                model=model,
            )
        merged = dict(options.pop("output_config", None) or {})
        merged.setdefault("format", {"type": "json_schema", "schema": schema})
        return {"output_config": merged}
    if any(tool.name == JSON_TOOL_NAME for tool in request.tools):
        raise InvalidRequestError(
            f"the tool name {JSON_TOOL_NAME!r} is taken by Anthropic JSON mode; rename the tool",
            provider=PROVIDER,
            model=model,
        )
    tool = {
        "name": JSON_TOOL_NAME,
        "description": "Give the answer as JSON: the input of this tool is the answer.",
        "input_schema": schema or {"type": "object"},
    }
    forced = {"type": "tool", "name": JSON_TOOL_NAME}
    return {
        "tools": [*request_tools(request, options), tool],
        "tool_choice": json_tool_choice(request.tool_choice, JSON_TOOL_NAME)
        if request.tools
        else forced,
    }


def request_tools(request: ChatRequest, options: dict[str, Any]) -> list[Any]:
    """The request's tools, then those given as an option (popped: they are merged here)."""
    return [*to_anthropic_tools(request.tools), *(options.pop("tools", None) or [])]
