"""Asyncio twins of `persona_llm.workflows.graph`: same names, same arguments, same results.

Only the client call differs (``await`` on the asyncio client from
``persona_llm.get_async_chat_client(task=...)``); tasks, prompts and reply parsing are the
same (`routing.routes`, `workflows.tasks`). The blocking functions in
`persona_llm.workflows.graph` are generated from these by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from persona_llm import facades
from persona_llm.clients import AsyncChatClient
from persona_llm.content import Content
from persona_llm.features.structured import achat_validated
from persona_llm.routing.routes import ANSWER, COMMUNITIES, EXTRACTION, INSIGHTS, RELATIONSHIPS
from persona_llm.routing.routes import task_scope as _task_scope
from persona_llm.workflows import tasks
from persona_llm.workflows.types import (
    AskRequestLike,
    CommunityStructure,
    Node,
    NodeLike,
    Relationship,
)

__all__ = [
    "detect_communities",
    "generate_response_with_context",
    "generate_structured_insights",
    "get_nodes",
    "get_relationships",
]


# unasync: source graph
def _chat(task: str, client: AsyncChatClient | None) -> AbstractContextManager[AsyncChatClient]:
    """The client of `task` for one block, its calls labelled `task` in the usage totals."""
    return _task_scope(task, client, facades.get_async_chat_client)


async def get_nodes(
    text: Content,
    graph_context: str,
    *,
    node_types: Sequence[str] | None = None,
    client: AsyncChatClient | None = None,
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
        return await achat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )


async def get_relationships(
    nodes: Sequence[Node | NodeLike | Mapping[str, Any]],
    graph_context: str,
    *,
    client: AsyncChatClient | None = None,
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
        found = await achat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )
    return found, ids


async def generate_response_with_context(
    query: str, context: str, *, client: AsyncChatClient | None = None
) -> str:
    """Answer `query` from `context` only (retrieval-augmented generation).

    Raises:
        InvalidRequestError: `query` is empty.
        ResponseParseError: the model's answer is empty; an empty answer is an error, not "".
        ContentFilterError: the model refused.
    """
    messages = tasks.answer_messages(query, context)
    with _chat(ANSWER, client) as chat:
        return tasks.answer_text(await chat.chat(messages, cache_prompt=True))


async def detect_communities(
    subgraphs_text: str, *, client: AsyncChatClient | None = None, max_reasks: int = 1
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
        response = await chat.chat(
            tasks.communities_messages(subgraphs_text),
            response_model=CommunityStructure,
            max_reasks=max_reasks,
            cache_prompt=True,
        )
    structure: CommunityStructure = response.parsed
    return structure


async def generate_structured_insights(
    query: str | AskRequestLike,
    context: str,
    output_schema: Mapping[str, Any] | None = None,
    *,
    client: AsyncChatClient | None = None,
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
        return await achat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
            cache_prompt=True,  # the long fixed system prompt is a cacheable prefix
        )


# unasync: end
