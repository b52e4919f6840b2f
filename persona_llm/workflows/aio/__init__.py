"""Asyncio twins of the workflows: `aio.graph` and `aio.embeddings`.

Each function has the name and arguments of its blocking twin in `persona_llm.workflows.graph` or
`persona_llm.workflows.embeddings`, takes the asyncio client from the container
(`persona_llm.get_async_chat_client()` / `get_async_embedding_client()`) unless one is passed
as ``client=``, and is awaited.
"""

from __future__ import annotations

from persona_llm.workflows.aio.embeddings import generate_embeddings
from persona_llm.workflows.aio.graph import (
    detect_communities,
    generate_response_with_context,
    generate_structured_insights,
    get_nodes,
    get_relationships,
)

__all__ = [
    "detect_communities",
    "generate_embeddings",
    "generate_response_with_context",
    "generate_structured_insights",
    "get_nodes",
    "get_relationships",
]
