"""Module-level access to the default container's clients.

Fetch a client where you use it (``get_chat_client().chat(...)``): clients are singletons, so
this costs a dictionary lookup. A client object fetched *before* a test overrides the container
keeps talking to what it was built with; only later `get_*` calls see the override.

Tasks: ``get_chat_client(task="extraction")`` is the client of that task's ``LLM_ROUTES``
route, or the ``LLM_SERVICE`` client when the task has none (see `persona_llm.routing.routes`). An
override of ``container.chat_client`` (``async_chat_client``) answers *every* task, routed or
not, so a test that replaces the model replaces it for all the workflows; to test routing,
override the provider adapters (``container.openai.adapter``, ...) or route to ``fake/<model>``.
``LLM_ROUTES`` is checked in full by the first `get_*` call, whichever it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import container

if TYPE_CHECKING:
    from persona_llm.usage.table import UsageReport
    from persona_llm.usage.tracker import UsageTracker

__all__ = [
    "get_async_chat_client",
    "get_async_embedding_client",
    "get_chat_client",
    "get_embedding_client",
    "reset_clients",
    "reset_usage",
    "usage_report",
]


def get_chat_client(task: str | None = None) -> ChatClient:
    """The blocking chat client of `task`: its ``LLM_ROUTES`` route, else ``LLM_SERVICE``.

    Built on first call, then shared; routes naming the same targets share one client.

    Raises:
        ConfigurationError: ``LLM_ROUTES`` is invalid, or `task` is not a valid task name.
    """
    if task is None and _routes_checked():
        unrouted: ChatClient = container.chat_client()
        return unrouted
    if task is not None:
        _check_task_name(task)
    if container.chat_client.overridden:
        overridden: ChatClient = container.chat_client()
        return overridden
    client: ChatClient = container.router().chat_client(task)
    return client


def get_async_chat_client(task: str | None = None) -> AsyncChatClient:
    """The asyncio chat client of `task`: its ``LLM_ROUTES`` route, else ``LLM_SERVICE``."""
    if task is None and _routes_checked():
        unrouted: AsyncChatClient = container.async_chat_client()
        return unrouted
    if task is not None:
        _check_task_name(task)
    if container.async_chat_client.overridden:
        overridden: AsyncChatClient = container.async_chat_client()
        return overridden
    client: AsyncChatClient = container.router().async_chat_client(task)
    return client


def get_embedding_client() -> EmbeddingClient:
    """The blocking embedding client: ``EMBEDDING_SERVICE``, else the ``embeddings=`` route of
    ``LLM_ROUTES``, else the chat provider's or OpenAI's (see `Settings.embedding_target`)."""
    _check_routes(container.embedding_client.overridden)
    client: EmbeddingClient = container.embedding_client()
    return client


def get_async_embedding_client() -> AsyncEmbeddingClient:
    """The asyncio embedding client."""
    _check_routes(container.async_embedding_client.overridden)
    client: AsyncEmbeddingClient = container.async_embedding_client()
    return client


def _check_task_name(task: str) -> None:
    from persona_llm.routing.routes import check_task_name  # a task's call needs routes

    check_task_name(task)


def _routes_checked() -> bool:
    """Whether the router, which checked LLM_ROUTES when it was built, is built and ours.

    Then the client of no task is the ``LLM_SERVICE`` one, as the router would answer: going
    through it on every call cost 10-25 µs (benchmarks/README.md).
    """
    router = container.router
    return router.built is not None and not router.overridden


def _check_routes(overridden: object) -> None:
    """Build the router (which checks LLM_ROUTES) unless a test replaced the client."""
    if not overridden:
        container.router()


def reset_clients() -> None:
    """Close every SDK client, drop every cached client, and re-read the settings next time.

    Overrides stay in place; use ``container.<provider>.reset_override()`` to remove them.
    """
    container.reset_singletons()


def usage_report(
    tracker: UsageTracker | None = None, *, key: str | None = None, period: str | None = None
) -> UsageReport:
    """The totals of the container's usage tracker (or of `tracker`).

    With `key`: that key's totals in the state store for the current `period`, as every
    worker counted them under ``track_usage(key=...)`` (see docs/many-workers.md).
    """
    chosen = tracker or container.usage_tracker()
    return chosen.report() if key is None else chosen.keyed().report(key, period)


def reset_usage(tracker: UsageTracker | None = None) -> None:
    """Clear the totals of the container's usage tracker (or of `tracker`)."""
    (tracker or container.usage_tracker()).reset()
