"""The Persona workflows, blocking: nodes, relationships, grounded answers, communities, insights.

Each function declares its task (`persona_llm.routing.routes`): `get_nodes` ``extraction``,
`get_relationships` ``relationships``, `generate_response_with_context` ``answer``,
`detect_communities` ``communities``, `generate_structured_insights` ``insights``. It takes
that task's chat client from the container at call time (``get_chat_client(task=...)``, routed
by ``LLM_ROUTES``), or the one passed as ``client=``, and its calls are labelled with the task
in the usage totals either way. The asyncio twins, same names and arguments, live in
`workflows.aio.graph`; both are thin over `tasks`, which builds the prompts and parses
the replies. The functions below are generated from the asyncio ones by
``scripts/unasync.py`` (docs/contributing-twins.md): edit those, then run the script.

JSON replies are parsed, repaired and re-asked as `features.structured` describes; a reply
that stays unusable raises `ResponseParseError`, never an empty result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from persona_llm import facades
from persona_llm.clients import ChatClient
from persona_llm.content import Content
from persona_llm.features.structured import chat_validated
from persona_llm.routing.routes import ANSWER, COMMUNITIES, EXTRACTION, INSIGHTS, RELATIONSHIPS
from persona_llm.routing.routes import task_scope as _task_scope
from persona_llm.workflows import tasks
from persona_llm.workflows.types import (
    NODE_TYPES,
    AskRequestLike,
    CommunityHeader,
    CommunityStructure,
    CommunitySubheader,
    Node,
    NodeLike,
    NodeType,
    Relationship,
)

__all__ = [
    "NODE_TYPES",
    "AskRequestLike",
    "CommunityHeader",
    "CommunityStructure",
    "CommunitySubheader",
    "Node",
    "NodeLike",
    "NodeType",
    "Relationship",
    "detect_communities",
    "generate_response_with_context",
    "generate_structured_insights",
    "get_nodes",
    "get_relationships",
]


# unasync: generated graph (do not edit: scripts/unasync.py writes it)
def _chat(task: str, client: ChatClient | None) -> AbstractContextManager[ChatClient]:
    """The client of `task` for one block, its calls labelled `task` in the usage totals."""
    return _task_scope(task, client, facades.get_chat_client)


def get_nodes(
    text: Content,
    graph_context: str,
    *,
    node_types: Sequence[str] | None = None,
    client: ChatClient | None = None,
    max_reasks: int = 1,
) -> list[Node]:
    """Extract the graph nodes that `text` tells about the user.

    A malformed node is skipped (and logged). The model's node types are kept, case
    normalized (``"hobby"`` -> ``"Hobby"``, ``"identity"`` -> ``"Identity"``); with
    `node_types` the model is told to use only those, and a node of another type becomes
    ``Other`` if ``Other`` is allowed, else it is skipped. The JSON Schema of the reply is
    sent as the provider's native schema setting. Empty `text` gives ``[]`` without a call.

    `text` may be content parts (`persona_llm.content`): a photo with a caption, a PDF page,
    a scanned note; they are sent after the instructions, to a model that takes them.

    Raises:
        InvalidRequestError: `node_types` is empty, or a part the model cannot take.
        ResponseParseError: the reply (after `max_reasks` re-asks) is not JSON, has no
            ``"nodes"`` array, or has nodes of which none is valid.
        ContentFilterError: the model refused.
    """
    if tasks.is_empty(text):
        return []
    task = tasks.nodes_task(text, graph_context, node_types)
    with _chat(EXTRACTION, client) as chat:
        return chat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )


def get_relationships(
    nodes: Sequence[Node | NodeLike | Mapping[str, Any]],
    graph_context: str,
    *,
    client: ChatClient | None = None,
    max_reasks: int = 1,
) -> tuple[list[Relationship], dict[str, str]]:
    """Find the relationships between `nodes`.

    A node is our `Node`, a dict of the same fields, or any object with ``.name`` and
    ``.type`` attributes (the Persona app's own ``Node``); ``.properties`` is read when present.

    Returns:
        The relationships, and the temporary ids the model saw (``Node1``..``NodeN``, in the
        order of `nodes`) mapped to node names; nodes sharing a name keep distinct ids.
        Relationships naming an unknown id are dropped (and logged); exact repeats are
        dropped. Fewer than two nodes give ``([], ids)`` without a call.

    Raises:
        InvalidRequestError: a node is none of the accepted shapes.
        ResponseParseError: the reply is not JSON or has no ``"relationships"`` array.
        ContentFilterError: the model refused.
    """
    checked = tasks.as_nodes(nodes)
    ids = tasks.node_ids(checked)
    if len(checked) < 2:
        return [], ids
    task = tasks.relationships_task(checked, ids, graph_context)
    with _chat(RELATIONSHIPS, client) as chat:
        found = chat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )
    return found, ids


def generate_response_with_context(
    query: str, context: str, *, client: ChatClient | None = None
) -> str:
    """Answer `query` from `context` only (retrieval-augmented generation).

    Raises:
        InvalidRequestError: `query` is empty.
        ResponseParseError: the model's answer is empty; an empty answer is an error, not "".
        ContentFilterError: the model refused.
    """
    messages = tasks.answer_messages(query, context)
    with _chat(ANSWER, client) as chat:
        return tasks.answer_text(chat.chat(messages, cache_prompt=True))


def detect_communities(
    subgraphs_text: str, *, client: ChatClient | None = None, max_reasks: int = 1
) -> CommunityStructure:
    """Group subgraphs into headers and subheaders (``response_model=CommunityStructure``).

    Subgraph ids keep the type the model returned: ``[3, 7]`` stays integers (as the app
    numbers its subgraphs), ``["sg3"]`` strings. Empty `subgraphs_text` gives an empty
    structure without a call.

    Raises:
        ResponseParseError: the reply does not fit `CommunityStructure` after the re-asks.
        ContentFilterError: the model refused.
    """
    if not subgraphs_text.strip():
        return CommunityStructure(communityHeaders=[])
    with _chat(COMMUNITIES, client) as chat:
        response = chat.chat(
            tasks.communities_messages(subgraphs_text),
            response_model=CommunityStructure,
            max_reasks=max_reasks,
            cache_prompt=True,
        )
    structure: CommunityStructure = response.parsed
    return structure


def generate_structured_insights(
    query: str | AskRequestLike,
    context: str,
    output_schema: Mapping[str, Any] | None = None,
    *,
    client: ChatClient | None = None,
    max_reasks: int = 1,
) -> dict[str, Any]:
    """Answer `query` from `context` as a JSON object matching `output_schema`.

    Two call shapes: ``(query, context, output_schema)``, or the Persona app's
    ``(ask_request, context)`` where `ask_request` has ``.query`` and ``.output_schema``.

    `output_schema` is a JSON Schema, or an example object such as ``{"summary": "...",
    "key_points": ["..."]}`` (the rule telling them apart: `persona_llm.workflows.schemas`).
    For an example, the model is asked for "a JSON object shaped like this example" and the
    reply must have exactly its keys with values of the same JSON types. The schema goes in
    the prompt, and to the provider's native schema setting when every provider takes it; the
    reply is validated with `jsonschema` either way.

    Raises:
        InvalidRequestError: `query` is empty, the schema is missing or given twice, or
            `output_schema` is not a valid JSON Schema of an object.
        ResponseParseError: the reply is still invalid after the re-asks; `errors` lists the
            schema violations.
        ContentFilterError: the model refused.
    """
    text, schema = tasks.insights_request(query, output_schema)
    task = tasks.insights_task(text, context, schema)
    with _chat(INSIGHTS, client) as chat:
        return chat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )


# unasync: end
