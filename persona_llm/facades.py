"""Module-level access to the default container's clients.

Fetch a client where you use it (``get_chat_client().chat(...)``): clients are singletons, so
this costs a dictionary lookup. A client object fetched *before* a test overrides the container
keeps talking to what it was built with; only later `get_*` calls see the override.
"""

from __future__ import annotations

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import container

__all__ = [
    "get_async_chat_client",
    "get_async_embedding_client",
    "get_chat_client",
    "get_embedding_client",
    "reset_clients",
]


def get_chat_client() -> ChatClient:
    """The blocking chat client for ``LLM_SERVICE`` (built on first call, then shared)."""
    client: ChatClient = container.chat_client()
    return client


def get_async_chat_client() -> AsyncChatClient:
    """The asyncio chat client for ``LLM_SERVICE``."""
    client: AsyncChatClient = container.async_chat_client()
    return client


def get_embedding_client() -> EmbeddingClient:
    """The blocking embedding client for ``EMBEDDING_SERVICE`` (or its fallback)."""
    client: EmbeddingClient = container.embedding_client()
    return client


def get_async_embedding_client() -> AsyncEmbeddingClient:
    """The asyncio embedding client."""
    client: AsyncEmbeddingClient = container.async_embedding_client()
    return client


def reset_clients() -> None:
    """Close every SDK client, drop every cached client, and re-read the settings next time.

    Overrides stay in place; use ``container.<provider>.reset_override()`` to remove them.
    """
    container.reset_singletons()
