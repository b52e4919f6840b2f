"""Pydantic models as OpenAI-style strict JSON Schema response formats.

`strict_schema` makes a model's JSON Schema acceptable to OpenAI's strict structured outputs;
`response_format_for` wraps it as ``{"type": "json_schema", ...}``, built once per model
class. `persona_llm.features.structured` re-exports both.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from pydantic import BaseModel

__all__ = ["response_format_for", "strict_schema"]


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema made compatible with OpenAI's strict structured outputs.

    Every object gets ``additionalProperties: false`` and lists all its properties as
    required (optional fields stay nullable, so the model answers ``null`` for them);
    ``default: null`` is dropped and a ``$ref`` with sibling keys is inlined. Objects that
    allow arbitrary keys (``dict[str, Any]`` fields) are left open: see `response_format_for`.
    """
    schema = model.model_json_schema()
    return _make_strict(schema, schema)


def _make_strict(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    for defs_key in ("$defs", "definitions"):
        for definition in (node.get(defs_key) or {}).values():
            _make_strict(definition, root)
    if node.get("type") == "object" and "additionalProperties" not in node:
        node["additionalProperties"] = False
    properties = node.get("properties")
    if isinstance(properties, dict):
        node["required"] = list(properties)
        for value in properties.values():
            _make_strict(value, root)
    if isinstance(node.get("items"), dict):
        _make_strict(node["items"], root)
    for key in ("anyOf", "allOf", "oneOf"):
        for variant in node.get(key) or []:
            _make_strict(variant, root)
    if "default" in node and node["default"] is None:
        del node["default"]
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        # Strict mode rejects "$ref" next to other keys ("description"): inline the target.
        target = _resolve_ref(root, ref)
        del node["$ref"]
        node.update({**target, **node})
        return _make_strict(node, root)
    return node


def _resolve_ref(root: dict[str, Any], ref: str) -> dict[str, Any]:
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


def _is_closed(node: Any) -> bool:
    """Whether every object in the schema forbids extra keys (strict mode's requirement)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            return False
        return all(_is_closed(value) for value in node.values())
    if isinstance(node, list):
        return all(_is_closed(value) for value in node)
    return True


def response_format_for(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAI-style ``json_schema`` response format for a pydantic model.

    ``strict`` is True unless the model has a free-form ``dict`` field, which strict mode
    cannot express; the reply is validated against the model either way. Built once per
    model class (schema generation costs milliseconds); each call gets its own copy.
    """
    return copy.deepcopy(_response_format(model))


@functools.lru_cache(maxsize=256)
def _response_format(model: type[BaseModel]) -> dict[str, Any]:
    schema = strict_schema(model)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64],
            "schema": schema,
            "strict": _is_closed(schema),
        },
    }
