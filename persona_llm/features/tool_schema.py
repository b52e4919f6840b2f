"""How a Python function, a pydantic model or a schema dict becomes a `Tool` (private).

The public entry point is `persona_llm.features.tools.tool`; the rules are documented there.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from persona_llm.errors import InvalidRequestError
from persona_llm.types import Tool

__all__ = [
    "arguments_model",
    "build_tool",
    "dict_tool",
    "function_tool",
    "model_tool",
    "parse_docstring",
]

_SECTION = re.compile(
    r"(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|Raises|Examples?|"
    r"Notes?|Attributes|See Also|Warnings?|Todo|References):",
    re.IGNORECASE,
)
_ARG_LINE = re.compile(r"\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)")
_ARG_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args"}
_DICT_KEYS = {"name", "description", "parameters", "input_schema", "strict"}


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before the first section) and the ``Args:`` descriptions."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.fullmatch(stripped)
        if header and indent == 0:
            section, current, arg_indent = header.group(1).lower(), None, None
        elif section is None:
            summary.append(line)
        elif section in _ARG_SECTIONS and stripped:
            arg_indent = indent if arg_indent is None else arg_indent
            match = _ARG_LINE.fullmatch(stripped) if indent <= arg_indent else None
            if match:
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {stripped}".strip()
    return "\n".join(summary).strip(), args


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    target = function if inspect.isroutine(function) else type(function).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # e.g. a forward reference to a name the module does not define
        # Guessing would send the model a schema without types: say what to fix instead.
        name = getattr(function, "__name__", repr(function))
        raise InvalidRequestError(
            f"the type hints of tool {name!r} cannot be resolved ({exc}); "
            "define the names its annotations use, or pass the tool as a JSON-schema dict"
        ) from None


def arguments_model(
    function: Callable[..., Any], name: str, descriptions: Mapping[str, str] | None = None
) -> type[BaseModel]:
    """A pydantic model of `function`'s parameters: its schema is the tool's parameters, and
    it validates (and converts) the model's arguments before the call.

    Raises:
        InvalidRequestError: the function takes ``*args``, ``**kwargs`` or positional-only
            parameters, which a tool call (named JSON arguments) cannot fill.
    """
    descriptions = descriptions or {}
    hints = _hints(function)
    fields: dict[str, Any] = {}
    for index, parameter in enumerate(inspect.signature(function).parameters.values()):
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise InvalidRequestError(
                f"tool {name!r}: parameter {parameter.name!r} is {parameter.kind.description}; "
                "a tool function takes named parameters only"
            )
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        # Field names of our own, the parameter name as alias: a parameter called "json" or
        # "schema" must not collide with BaseModel's attributes.
        # Only a description the docstring gives: None would hide an Annotated Field's own.
        field = (
            Field(default, alias=parameter.name, description=descriptions[parameter.name])
            if parameter.name in descriptions
            else Field(default, alias=parameter.name)
        )
        fields[f"p{index}"] = (annotation, field)
    model: type[BaseModel] = create_model(
        f"{name}_arguments", __config__=ConfigDict(arbitrary_types_allowed=True), **fields
    )
    return model


def _clean(node: Any) -> Any:
    """A pydantic schema without the generated ``title`` keywords (noise for the model)."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            cleaned[key] = {name: _clean(schema) for name, schema in value.items()}
        else:
            cleaned[key] = _clean(value)
    return cleaned


def function_tool(function: Callable[..., Any], name: str | None) -> Tool:
    """A tool from a function's name, docstring (summary and ``Args:``) and type hints."""
    name = name or getattr(function, "__name__", None)
    if not name or name == "<lambda>":
        raise InvalidRequestError(
            "a lambda or a callable without __name__ needs a tool name: tool(f, name='...')"
        )
    summary, descriptions = parse_docstring(inspect.getdoc(function) or "")
    schema = _clean(arguments_model(function, name, descriptions).model_json_schema())
    schema.pop("description", None)
    return build_tool(name=name, description=summary, parameters=schema, function=function)


def model_tool(model: type[BaseModel], name: str | None) -> Tool:
    """A tool whose parameters are a pydantic model's fields (no function to run)."""
    schema = _clean(model.model_json_schema())
    description = str(schema.pop("description", "") or "")
    return build_tool(name=name or model.__name__, description=description, parameters=schema)


def dict_tool(spec: Mapping[str, Any]) -> Tool:
    """A tool from ``{name, description, parameters | input_schema, strict}``, bare or
    wrapped OpenAI-style in ``{"type": "function", "function": {...}}``."""
    if spec.get("type") == "function" and isinstance(spec.get("function"), Mapping):
        extra = set(spec) - {"type", "function"}
        spec = spec["function"]
    else:
        extra = set()
    extra |= set(spec) - _DICT_KEYS
    if extra:
        raise InvalidRequestError(
            f"tool dict has unknown keys {sorted(extra)}: a function tool is "
            "{'name', 'description', 'parameters'} or {'type': 'function', 'function': {...}}"
            " (provider built-in tools are not function tools)"
        )
    parameters = spec.get("parameters", spec.get("input_schema"))
    fields = {k: spec[k] for k in ("name", "description", "strict") if k in spec}
    if parameters is not None:
        fields["parameters"] = dict(parameters)
    return build_tool(**fields)


def build_tool(**fields: Any) -> Tool:
    """A validated `Tool`; invalid fields raise `InvalidRequestError` saying what is wrong."""
    try:
        return Tool(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'tool'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise InvalidRequestError(f"invalid tool ({problems})") from None
