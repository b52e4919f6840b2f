"""The JSON Schemas the workflows send, output schemas given as examples, and the two call
shapes of the insights task (`insights_request`). No I/O.

`generate_structured_insights` takes its ``output_schema`` either as a JSON Schema or, as the
Persona app writes it, as an *example object* (``{"summary": "...", "key_points": ["..."]}``).
`is_json_schema` tells them apart:

* a mapping with a ``"$schema"`` key is a JSON Schema;
* an empty mapping is the JSON Schema of any object (``{}``);
* a mapping whose keys are all JSON Schema keywords (``type``, ``properties``, ``required``,
  ...) and that has a ``"type"`` naming a JSON type (``"object"``, ``"string"``, ... or a list
  of them) or a ``"properties"`` object is a JSON Schema;
* anything else is an example: ``{"type": "Hobby", "name": "..."}`` has a key that is no
  keyword, ``{"type": "Hobby"}`` a type that is no JSON type.

`example_schema` derives the schema of an example: an object with exactly the example's keys
(all required, no others), each value's JSON type (a string example is any string, a number
any number, a list a list of items like its first item), recursively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from persona_llm.errors import InvalidRequestError

__all__ = [
    "example_schema",
    "insights_request",
    "is_json_schema",
    "is_portable",
    "json_schema_format",
    "nodes_schema",
    "relationships_schema",
]

_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})

# The JSON Schema 2020-12 (and draft-07) keywords: a mapping whose keys are all among these,
# with a type or properties, reads as a schema rather than as an example.
# (A word list reads better than 60 quoted strings.)
_KEYWORDS = frozenset(
    """$id $schema $ref $defs $anchor $comment $dynamicRef $dynamicAnchor $vocabulary
    definitions type enum const title description default examples deprecated readOnly
    writeOnly format properties patternProperties additionalProperties propertyNames
    required dependentRequired dependentSchemas dependencies unevaluatedProperties
    minProperties maxProperties items prefixItems additionalItems contains minContains
    maxContains minItems maxItems uniqueItems unevaluatedItems minLength maxLength pattern
    contentEncoding contentMediaType minimum maximum exclusiveMinimum exclusiveMaximum
    multipleOf allOf anyOf oneOf not if then else nullable""".split()  # noqa: SIM905
)

# What every provider's native schema setting takes (Gemini's ``response_json_schema`` is the
# narrowest): a caller's schema using only these is also sent to the provider.
_PORTABLE = frozenset(
    """$id $defs $ref $anchor type format title description enum items prefixItems minItems
    maxItems minimum maximum anyOf oneOf properties additionalProperties required""".split()  # noqa: SIM905
)
_SUBSCHEMA_MAPS = ("properties", "$defs")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "prefixItems")


def _is_type_name(value: Any) -> bool:
    if isinstance(value, str):
        return value in _JSON_TYPES
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, str) and v in _JSON_TYPES for v in value)
    )


def is_json_schema(value: Mapping[str, Any]) -> bool:
    """Whether `value` is a JSON Schema rather than an example object (rule: module doc)."""
    if "$schema" in value or not value:
        return True
    if not set(value) <= _KEYWORDS:
        return False
    return _is_type_name(value.get("type")) or isinstance(value.get("properties"), Mapping)


def example_schema(example: Any) -> dict[str, Any]:
    """The JSON Schema of values shaped like `example` (rule: module doc)."""
    if isinstance(example, Mapping):
        return {
            "type": "object",
            "properties": {str(key): example_schema(value) for key, value in example.items()},
            "required": [str(key) for key in example],
            "additionalProperties": False,
        }
    if isinstance(example, (list, tuple)):
        return {"type": "array", "items": example_schema(example[0]) if example else {}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    if isinstance(example, str):
        return {"type": "string"}
    return {}  # None: the example does not say, any value


def is_portable(schema: Any) -> bool:
    """Whether every provider's native schema setting takes `schema` (keywords: `_PORTABLE`)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or not set(schema) <= _PORTABLE:
        return False
    subschemas: list[Any] = []
    for key in _SUBSCHEMA_MAPS:
        if isinstance(schema.get(key), Mapping):
            subschemas.extend(schema[key].values())
    for key in _SUBSCHEMA_LISTS:
        subschemas.extend(schema.get(key) or [])
    for key in ("items", "additionalProperties"):
        if key in schema:
            subschemas.append(schema[key])
    return all(is_portable(sub) for sub in subschemas)


def _closed(schema: Any) -> bool:
    """Whether OpenAI's strict mode takes `schema`: typed, objects closed and fully required."""
    if not isinstance(schema, Mapping) or "type" not in schema:
        return False
    if schema["type"] == "object":
        properties = schema.get("properties") or {}
        return (
            schema.get("additionalProperties") is False
            and list(schema.get("required") or []) == list(properties)
            and all(_closed(value) for value in properties.values())
        )
    if schema["type"] == "array":
        return _closed(schema.get("items"))
    return True


def json_schema_format(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAI-style ``json_schema`` response format sending `schema` (strict if closed)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": dict(schema), "strict": _closed(schema)},
    }


def _one_of_or_any(values: Iterable[str]) -> dict[str, Any]:
    """A string, preferably one of `values`; any string validates (the parsers are lenient)."""
    return {"anyOf": [{"type": "string", "enum": list(values)}, {"type": "string"}]}


def nodes_schema(node_types: Sequence[str]) -> dict[str, Any]:
    """The schema of a node-extraction reply, sent to guide the provider.

    Deliberately loose (nothing required, items without ``"type": "object"``): the client
    validates the reply against it before `workflows.tasks` checks the reply node by node,
    which skips a malformed node instead of rejecting all of them, and names a missing
    ``"nodes"`` array with an example of the fix.
    """
    node = {
        "properties": {
            "name": {"type": "string", "description": "a short noun phrase"},
            "type": _one_of_or_any(node_types),
            "properties": {"description": "supporting details, short string values"},
        }
    }
    return {
        "type": "object",
        "properties": {"nodes": {"type": "array", "items": node}},
    }


def relationships_schema(ids: Iterable[str]) -> dict[str, Any]:
    """The schema of a relationships reply, sent to guide the provider (loose like nodes)."""
    id_list = list(ids)
    relationship = {
        "properties": {
            "source_id": _one_of_or_any(id_list),
            "relation": {"type": "string", "description": "UPPER_SNAKE_CASE verb phrase"},
            "target_id": _one_of_or_any(id_list),
        }
    }
    return {
        "type": "object",
        "properties": {"relationships": {"type": "array", "items": relationship}},
    }


def insights_request(
    query: Any, output_schema: Mapping[str, Any] | None
) -> tuple[str, Mapping[str, Any]]:
    """The query and output schema of an insights call, from either call shape.

    `query` is the query string (the schema given separately), or the app's ask request: any
    object with ``.query`` and ``.output_schema`` attributes.

    Raises:
        InvalidRequestError: the schema is missing, given twice, or not a mapping.
    """
    if not isinstance(query, str):
        if not (hasattr(query, "query") and hasattr(query, "output_schema")):
            raise InvalidRequestError(
                f"generate_structured_insights() takes a query string and an output_schema, "
                f"or an ask request with .query and .output_schema; got {type(query).__name__}"
            )
        if output_schema is not None and query.output_schema is not None:
            raise InvalidRequestError(
                "the ask request has an output_schema already: do not pass output_schema too"
            )
        query, output_schema = query.query, output_schema or query.output_schema
    if not isinstance(query, str):
        raise InvalidRequestError(f"the query must be a string, got {type(query).__name__}")
    if not isinstance(output_schema, Mapping):
        raise InvalidRequestError(
            "output_schema must be a JSON Schema or an example object (a dict), "
            f"got {type(output_schema).__name__}"
        )
    return query, output_schema
