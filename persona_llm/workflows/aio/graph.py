"""Asyncio twins of `persona_llm.workflows.graph`: same names, same arguments, same results.

Only the client call differs (``await`` on the asyncio client from
``persona_llm.get_async_chat_client(task=...)``); tasks, prompts and reply parsing are the
same (`routing.routes`, `workflows.tasks`). See the blocking functions for the
full documentation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from persona_llm import facades
from persona_llm.clients import AsyncChatClient
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


def _chat(task: str, client: AsyncChatClient | None) -> AbstractContextManager[AsyncChatClient]:
    """The client of `task` for one block, its calls labelled `task` in the usage totals."""
    return _task_scope(task, client, facades.get_async_chat_client)


async def get_nodes(
    text: str,
    graph_context: str,
    *,
    node_types: Sequence[str] | None = None,
    client: AsyncChatClient | None = None,
    max_reasks: int = 1,
) -> list[Node]:
    """Asyncio twin of `persona_llm.workflows.graph.get_nodes`."""
    if not text.strip():
        return []
    task = tasks.nodes_task(text, graph_context, node_types)
    with _chat(EXTRACTION, client) as chat:
        return await achat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
        )


async def get_relationships(
    nodes: Sequence[Node | NodeLike | Mapping[str, Any]],
    graph_context: str,
    *,
    client: AsyncChatClient | None = None,
    max_reasks: int = 1,
) -> tuple[list[Relationship], dict[str, str]]:
    """Asyncio twin of `persona_llm.workflows.graph.get_relationships`."""
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
        )
    return found, ids


async def generate_response_with_context(
    query: str, context: str, *, client: AsyncChatClient | None = None
) -> str:
    """Asyncio twin of `persona_llm.workflows.graph.generate_response_with_context`."""
    messages = tasks.answer_messages(query, context)
    with _chat(ANSWER, client) as chat:
        return tasks.answer_text(await chat.chat(messages))


async def detect_communities(
    subgraphs_text: str, *, client: AsyncChatClient | None = None, max_reasks: int = 1
) -> CommunityStructure:
    """Asyncio twin of `persona_llm.workflows.graph.detect_communities`."""
    if not subgraphs_text.strip():
        return CommunityStructure(communityHeaders=[])
    with _chat(COMMUNITIES, client) as chat:
        response = await chat.chat(
            tasks.communities_messages(subgraphs_text),
            response_model=CommunityStructure,
            max_reasks=max_reasks,
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
    """Asyncio twin of `persona_llm.workflows.graph.generate_structured_insights`."""
    text, schema = tasks.insights_request(query, output_schema)
    task = tasks.insights_task(text, context, schema)
    with _chat(INSIGHTS, client) as chat:
        return await achat_validated(
            chat,
            task.messages,
            task.validate,
            max_reasks=max_reasks,
            response_format=task.response_format,
        )
