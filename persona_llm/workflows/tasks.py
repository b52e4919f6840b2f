"""Prompt building and reply parsing of the Persona workflows, without I/O.

`workflows.graph` (blocking) and `workflows.aio.graph` (asyncio) differ only in how they
call the client; everything they send and everything they make of the reply is built here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from persona_llm.content import Content, TextPart, content_text, media_parts, parse_content
from persona_llm.errors import InvalidRequestError, ResponseParseError
from persona_llm.features.structured import (
    JSON_OBJECT,
    OutputValidationError,
    Validator,
    check_refusal,
    json_schema_validator,
)
from persona_llm.types import ChatMessage, ChatResponse
from persona_llm.workflows.prompts import (
    COMMUNITIES_PROMPT,
    INSIGHTS_PROMPT,
    NODES_PROMPT,
    RAG_ANSWER_PROMPT,
    RELATIONSHIPS_PROMPT,
)
from persona_llm.workflows.schemas import (
    example_schema,
    insights_request,
    is_json_schema,
    is_portable,
    json_schema_format,
    nodes_schema,
    relationships_schema,
)
from persona_llm.workflows.types import NODE_TYPES, Node, Relationship, node_type

__all__ = [
    "JsonTask",
    "answer_messages",
    "answer_text",
    "as_nodes",
    "communities_messages",
    "insights_request",
    "insights_task",
    "is_empty",
    "node_ids",
    "nodes_task",
    "relationships_task",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_NONE_YET = "(nothing yet)"
_RELATIONSHIP_KEYS = ("source_id", "relation", "target_id")


@dataclass(frozen=True)
class JsonTask(Generic[T]):
    """A JSON-mode call: the messages, the response format sent, the reply's validator."""

    messages: tuple[ChatMessage, ...]
    validate: Validator[T]
    response_format: Mapping[str, Any]


def _conversation(system: str, user: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage(role="system", content=system), ChatMessage(role="user", content=user))


def _list_field(data: Any, key: str) -> list[Any]:
    """The array under `key` of the reply object; its absence is a validation failure."""
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise OutputValidationError(
            [f'(root): the reply must be a JSON object with a "{key}" array, e.g. {{"{key}": []}}']
        )
    items: list[Any] = data[key]
    return items


def _problems(prefix: str, exc: ValidationError) -> list[str]:
    return [
        "".join([prefix, *(f".{p}" for p in error["loc"]), f": {error['msg']}"])
        for error in exc.errors()
    ]


# -- nodes ----------------------------------------------------------------------------------


def is_empty(text: Content) -> bool:
    """Whether `text` (a str or parts) has nothing to extract from: blank text, no media."""
    if isinstance(text, str):
        return not text.strip()
    parts = parse_content(text)
    return not media_parts(parts) and not content_text(parts).strip()


def nodes_task(
    text: Content, graph_context: str, node_types: Sequence[str] | None = None
) -> JsonTask[list[Node]]:
    """The node-extraction call for `text`, given what the graph already holds.

    With `node_types`, the model is told to use only those types, and a node of another type
    becomes ``Other`` when ``Other`` is one of them, else it is skipped (and logged).

    Raises:
        InvalidRequestError: `node_types` is empty or has a blank type.
    """
    allowed = _allowed_types(node_types)
    restriction = (
        f"Node types allowed for this text (use only these): {', '.join(allowed)}\n\n"
        if node_types is not None
        else ""
    )
    context = (
        f"{restriction}Graph context (what is already known about the user):\n"
        f"{graph_context.strip() or _NONE_YET}\n\n"
    )
    if isinstance(text, str):
        messages = _conversation(NODES_PROMPT, f"{context}Text:\n{text.strip()}")
    else:  # a photo with a caption, a PDF page...: the parts follow the instructions
        parts = (TextPart(f"{context}Text and attachments:"), *parse_content(text))
        messages = (
            ChatMessage(role="system", content=NODES_PROMPT),
            ChatMessage(role="user", content=parts),
        )
    return JsonTask(
        messages,
        _nodes_parser(allowed if node_types is not None else None),
        json_schema_format("nodes", nodes_schema(allowed)),
    )


def _allowed_types(node_types: Sequence[str] | None) -> tuple[str, ...]:
    if node_types is None:
        return NODE_TYPES
    if isinstance(node_types, str) or not node_types:
        raise InvalidRequestError(
            f"node_types must be a non-empty list of type names, got {node_types!r}"
        )
    if not all(isinstance(t, str) and t.strip() for t in node_types):
        raise InvalidRequestError(f"node_types has a blank or non-string type: {node_types!r}")
    return tuple(dict.fromkeys(node_type(t) for t in node_types))


def _nodes_parser(allowed: Sequence[str] | None) -> Validator[list[Node]]:
    if allowed is None:
        return _parse_nodes
    by_lower = {name.lower(): name for name in allowed}
    fallback = by_lower.get("other")

    def parse(data: Any) -> list[Node]:
        nodes: list[Node] = []
        for node in _parse_nodes(data):
            kept = by_lower.get(node.type.lower(), fallback)
            if kept is None:
                logger.warning("skipping node %r: type %r is not allowed", node.name, node.type)
            else:
                nodes.append(node.model_copy(update={"type": kept}))
        if data["nodes"] and not nodes:
            raise OutputValidationError(
                [f"every node has a type outside the allowed ones: {', '.join(allowed)}"]
            )
        return nodes

    return parse


def _parse_nodes(data: Any) -> list[Node]:
    items = _list_field(data, "nodes")
    nodes: list[Node] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            nodes.append(Node.model_validate(item))
        except ValidationError as exc:
            found = _problems(f"nodes[{index}]", exc)
            problems.extend(found)
            logger.warning("skipping malformed node %d (%r): %s", index, item, "; ".join(found))
    if items and not nodes:
        # Every node broken is a bad reply, not an empty graph: re-ask rather than return [].
        raise OutputValidationError(
            [*problems[:5], 'each node needs a non-empty string "name" and a string "type"']
        )
    return nodes


# -- relationships --------------------------------------------------------------------------


def as_nodes(nodes: Sequence[Any]) -> list[Node]:
    """The nodes as `Node`s.

    Accepted: our `Node`, a ``{"name", "type", "properties"}`` dict, or any object with
    ``.name`` and ``.type`` attributes (and optionally ``.properties``), such as the Persona
    app's own pydantic ``Node``.

    Raises:
        InvalidRequestError: an item is none of these, or has no usable name.
    """
    return [_as_node(index, node) for index, node in enumerate(nodes)]


def _as_node(index: int, node: Any) -> Node:
    if isinstance(node, Node):
        return node
    if isinstance(node, Mapping):
        fields: Any = node
    elif hasattr(node, "name") and hasattr(node, "type"):
        fields = {
            "name": node.name,
            "type": node.type,
            "properties": getattr(node, "properties", None),
        }
    else:
        raise InvalidRequestError(
            f"nodes[{index}] is a {type(node).__name__}: pass Node objects, dicts with "
            '"name" and "type", or any object with .name and .type attributes'
        )
    try:
        return Node.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequestError(
            f"nodes[{index}] is not a usable node: {'; '.join(_problems('node', exc))}"
        ) from None


def node_ids(nodes: Sequence[Node]) -> dict[str, str]:
    """Temporary ids for the model, ``Node1`` to ``NodeN``, mapped to node names.

    Nodes that share a name get distinct ids.
    """
    return {f"Node{index}": node.name for index, node in enumerate(nodes, start=1)}


def relationships_task(
    nodes: Sequence[Node], ids: Mapping[str, str], graph_context: str
) -> JsonTask[list[Relationship]]:
    """The relationship call for `nodes`, which `ids` (from `node_ids`) names."""
    lines = []
    for node_id, node in zip(ids, nodes, strict=True):
        details = f" {json.dumps(node.properties, ensure_ascii=False)}" if node.properties else ""
        lines.append(f"{node_id}: {node.name} [{node.type}]{details}")
    user = (
        "Nodes:\n"
        + "\n".join(lines)
        + "\n\nGraph context:\n"
        + (graph_context.strip() or _NONE_YET)
    )
    return JsonTask(
        _conversation(RELATIONSHIPS_PROMPT, user),
        _relationships_parser(ids),
        json_schema_format("relationships", relationships_schema(ids)),
    )


def _relationships_parser(ids: Mapping[str, str]) -> Validator[list[Relationship]]:
    # Models write "node1" or " Node1 " now and then; the ids themselves are unambiguous.
    canonical = {node_id.casefold(): node_id for node_id in ids}

    def parse(data: Any) -> list[Relationship]:
        found: dict[tuple[str, str, str], Relationship] = {}
        for index, item in enumerate(_list_field(data, "relationships")):
            relationship = _relationship(index, item, ids, canonical)
            if relationship is not None:
                key = (relationship.source_id, relationship.relation, relationship.target_id)
                found.setdefault(key, relationship)
        return list(found.values())

    return parse


def _snake_upper(relation: str) -> str:
    """``"works at"`` -> ``"WORKS_AT"``: the prompt asks for UPPER_SNAKE_CASE, models drift,
    and a graph database takes a relation type as an identifier."""
    return re.sub(r"[\W_]+", "_", relation).strip("_").upper()


def _relationship(
    index: int, item: Any, ids: Mapping[str, str], canonical: Mapping[str, str]
) -> Relationship | None:
    fields = [item.get(k) if isinstance(item, dict) else None for k in _RELATIONSHIP_KEYS]
    texts = [value.strip() for value in fields if isinstance(value, str) and value.strip()]
    if len(texts) != len(_RELATIONSHIP_KEYS):
        logger.warning("skipping malformed relationship %d: %r", index, item)
        return None
    source, relation, target = texts
    relation = _snake_upper(relation)
    if not relation:
        logger.warning("skipping malformed relationship %d: %r", index, item)
        return None
    source_id, target_id = canonical.get(source.casefold()), canonical.get(target.casefold())
    if source_id is None or target_id is None:
        unknown = [raw for raw, known in ((source, source_id), (target, target_id)) if not known]
        logger.warning("dropping relationship %d: unknown node id(s) %s", index, unknown)
        return None
    return Relationship(
        source_id=source_id,
        source=ids[source_id],
        relation=relation,
        target_id=target_id,
        target=ids[target_id],
    )


# -- answers, communities, insights ---------------------------------------------------------


def answer_messages(query: str, context: str) -> tuple[ChatMessage, ...]:
    """The grounded-answer call for `query` over `context`."""
    _require("query", query)
    return _conversation(
        RAG_ANSWER_PROMPT, f"Context:\n{context.strip() or _NONE_YET}\n\nQuestion: {query.strip()}"
    )


def answer_text(response: ChatResponse) -> str:
    """The answer's text, stripped.

    Raises:
        ContentFilterError: the model refused.
        ResponseParseError: the answer is empty.
    """
    check_refusal(response)
    text = response.content.strip()
    if not text:
        hint = " (cut off at max_tokens)" if response.finish_reason == "length" else ""
        raise ResponseParseError(
            f"the model returned an empty answer{hint}",
            raw_text=response.content,
            errors=[f"empty answer{hint}"],
            provider=response.provider,
            model=response.model,
        )
    return text


def communities_messages(subgraphs_text: str) -> tuple[ChatMessage, ...]:
    """The community-detection call over the subgraphs' text."""
    return _conversation(COMMUNITIES_PROMPT, f"Subgraphs:\n{subgraphs_text.strip()}")


def insights_task(
    query: str, context: str, output_schema: Mapping[str, Any]
) -> JsonTask[dict[str, Any]]:
    """The structured-insights call; its reply must be an object valid against `output_schema`.

    `output_schema` is a JSON Schema or an example object (told apart by
    `workflows.schemas.is_json_schema`). An example's schema is derived from it and the model
    is shown the example; a JSON Schema is shown as such. The schema is also sent as the
    provider's native schema setting when every provider takes it (`schemas.is_portable`),
    else the call is plain JSON mode; the reply is validated with `jsonschema` either way.

    Raises:
        InvalidRequestError: the query is empty, or the schema is invalid or not an object's.
    """
    _require("query", query)
    if is_json_schema(output_schema):
        schema: Mapping[str, Any] = output_schema
        shown = "JSON Schema of the reply"
    else:
        schema = example_schema(output_schema)
        shown = "The reply is a JSON object shaped like this example (same keys, same types)"
    if schema.get("type", "object") != "object":
        raise InvalidRequestError('output_schema must describe a JSON object ("type": "object")')
    check_schema = json_schema_validator(schema)

    def validate(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise OutputValidationError(["$: the reply must be a JSON object"])
        checked: dict[str, Any] = check_schema(data)
        return checked

    text = json.dumps(output_schema, indent=2, ensure_ascii=False)
    user = (
        f"Request: {query.strip()}\n\n{shown}:\n{text}\n\nContext:\n{context.strip() or _NONE_YET}"
    )
    native = json_schema_format("insights", schema) if is_portable(schema) else JSON_OBJECT
    return JsonTask(_conversation(INSIGHTS_PROMPT, user), validate, native)


def _require(name: str, value: str) -> None:
    if not value.strip():
        raise InvalidRequestError(f"{name} is empty")
