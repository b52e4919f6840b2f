"""The Persona app's LLM names, mapped to persona-llm: change imports first, then migrate.

``from persona.llm.client_factory import get_chat_client`` and friends become imports from
this module; each name behaves as the app's did at its multi-provider commit (asyncio
clients, awaited workflows, ``parse_llm_service`` returning a tuple, ``ValueError`` on bad
configuration). What differs on purpose is listed in ``docs/migrating.md``. New code should
use the names this module re-exports from, shown in each comment.
"""

from __future__ import annotations

from persona_llm import ChatMessage, ChatResponse, ConfigurationError, reset_clients
from persona_llm._services import parse_service
from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient
from persona_llm.facades import get_async_chat_client, get_async_embedding_client
from persona_llm.workflows.aio.embeddings import generate_embeddings
from persona_llm.workflows.aio.graph import (
    detect_communities,
    generate_response_with_context,
    generate_structured_insights,
    get_nodes,
    get_relationships,
)

__all__ = [
    "BaseLLMClient",
    "ChatMessage",
    "ChatResponse",
    "LLMConfigError",
    "detect_communities",
    "generate_embeddings",
    "generate_response_with_context",
    "generate_structured_insights",
    "get_chat_client",
    "get_embedding_client",
    "get_nodes",
    "get_relationships",
    "parse_llm_service",
    "reset_clients",
]

BaseLLMClient = AsyncChatClient
"""``persona.llm.providers.base.BaseLLMClient``: the app awaited ``client.chat(...)``."""


class LLMConfigError(ConfigurationError, ValueError):
    """A `ConfigurationError` that is also the ``ValueError`` the app's code catches."""


def get_chat_client() -> AsyncChatClient:
    """``persona.llm.client_factory.get_chat_client``: `persona_llm.get_async_chat_client`."""
    return get_async_chat_client()


def get_embedding_client() -> AsyncEmbeddingClient:
    """``client_factory.get_embedding_client``: `persona_llm.get_async_embedding_client`."""
    return get_async_embedding_client()


def parse_llm_service(llm_service: str) -> tuple[str, str]:
    """``client_factory.parse_llm_service``: ``"openai/gpt-4o-mini"`` -> ``("openai",
    "gpt-4o-mini")``; ``""`` is the model when only the provider is named.

    Raises:
        LLMConfigError: not ``provider/model``, or an unknown provider (a ``ValueError``).
    """
    try:
        target = parse_service(llm_service)
    except ConfigurationError as exc:
        raise LLMConfigError(exc.message) from None
    return target.provider, target.model or ""
