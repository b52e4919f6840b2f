"""The container's `Router`: task → chat client, following ``LLM_ROUTES``.

`persona_llm.routing.routes` parses and checks the routes; the router checks their capabilities
when the container builds it (at the first ``get_*_client()`` call) and builds each route's
client on first use: retried targets, pools and fallbacks (`persona_llm.reliability`), under
the same usage tracking as the facades.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from persona_llm.errors import ConfigurationError
from persona_llm.providers import adapter_class
from persona_llm.reliability.config import ReliabilityConfig
from persona_llm.routing.routes import (
    EMBEDDINGS,
    Route,
    RouteMember,
    RouteTable,
    Tiers,
    check_capabilities,
    check_task_name,
)

if TYPE_CHECKING:
    from persona_llm.providers.base import ProviderAdapter
    from persona_llm.reliability.policy import RetryPolicy
    from persona_llm.settings import ServiceTarget, Settings
    from persona_llm.state.build import StateServices
    from persona_llm.types import Capabilities

__all__ = ["Router"]

logger = logging.getLogger(__name__)

C = TypeVar("C")  # the blocking chat client type (the container passes ChatClient)
A = TypeVar("A")  # the asyncio one (AsyncChatClient)
K = TypeVar("K")


def _adapter_capabilities(provider: str) -> Capabilities:
    return adapter_class(provider).capabilities


class Router(Generic[C, A]):
    """Task → chat client: a route's client, built on first use, else ``LLM_SERVICE``'s.

    One client (and one adapter stack) per distinct target list: routes naming the same
    targets share it, and a route naming exactly ``LLM_SERVICE`` with its pool and fallbacks
    gets the ``LLM_SERVICE`` client itself. Targets without a profile use the container's
    adapter of their provider, so ``container.anthropic.adapter.override(...)`` reaches every
    ``anthropic/...`` route.

    Args:
        settings: read for ``LLM_ROUTES`` and the reliability variables.
        adapters: the container's adapter providers by provider name.
        policy: the retry policy every target shares.
        observe: wraps an adapter stack with usage tracking (the container's tracker).
        default: returns the ``LLM_SERVICE`` chat client (called each time: overrides apply).
        default_async: its asyncio twin.
        client: builds a route's blocking client from its adapter stack and model (the
            container passes `ChatClient`; routing does not import the public surface).
        async_client: the same for asyncio (`AsyncChatClient`).
        capabilities_of: capabilities of a provider (default: its adapter class's, which
            imports that provider's SDK; only providers named in routes are looked up).
        state: rate limits, shared breakers and the response cache for the routes' stacks.

    Raises:
        ConfigurationError: ``LLM_ROUTES`` is malformed, or a route lacks a capability.
    """

    def __init__(
        self,
        settings: Settings,
        adapters: Mapping[str, Callable[[], ProviderAdapter]],
        policy: RetryPolicy,
        observe: Callable[[ProviderAdapter], ProviderAdapter],
        default: Callable[[], C],
        default_async: Callable[[], A],
        client: Callable[[ProviderAdapter, str | None], C],
        async_client: Callable[[ProviderAdapter, str | None], A],
        capabilities_of: Callable[[str], Capabilities] = _adapter_capabilities,
        state: StateServices | None = None,
    ) -> None:
        self.table = RouteTable.from_settings(settings)
        self._reliability = ReliabilityConfig.from_settings(settings)
        check_capabilities(self.table, capabilities_of)
        if self.table.embedding is not None:
            _check_embedding_route(settings, self.table.embedding)
        self._settings = settings
        self._adapters = adapters
        self._policy = policy
        self._observe = observe
        self._default = default
        self._default_async = default_async
        self._state = state
        self._make_client = client
        self._make_async_client = async_client
        self._lock = threading.Lock()
        self._stacks: dict[Tiers, ProviderAdapter] = {}
        self._clients: dict[tuple[Tiers, str | None, bool], Any] = {}
        self._default_tiers: Tiers | None = None

    def route(self, task: str | None) -> Route | None:
        """The route of `task`, or None when it uses the ``LLM_SERVICE`` client.

        Raises:
            ConfigurationError: `task` is not a valid task name, or is ``embeddings`` (the
                embedding service's task: use `get_embedding_client()`).
        """
        if task is None:
            return None
        if check_task_name(task) == EMBEDDINGS:
            raise ConfigurationError(
                "'embeddings' is the embedding service's task, not a chat task: use "
                "get_embedding_client() (EMBEDDING_SERVICE, or LLM_ROUTES embeddings=...)"
            )
        route = self.table.routes.get(task)
        return None if route is None or route.tiers == self._service_tiers() else route

    def chat_client(self, task: str | None = None) -> C:
        """The blocking chat client of `task` (``LLM_SERVICE``'s when unrouted or None)."""
        route = self.route(task)
        return self._default() if route is None else self._client(route, self._make_client)

    def async_chat_client(self, task: str | None = None) -> A:
        """The asyncio chat client of `task`."""
        route = self.route(task)
        if route is None:
            return self._default_async()
        return self._client(route, self._make_async_client)

    def close(self) -> None:
        """Close the routes' adapter stacks (the container calls this on reset)."""
        with self._lock:
            stacks, self._stacks = list(self._stacks.values()), {}
            self._clients.clear()
        for stack in stacks:
            stack.close()

    def _client(self, route: Route, make: Callable[[ProviderAdapter, str | None], K]) -> K:
        # A route's ?reasoning= level, else LLM_REASONING, is its client's default level.
        reasoning = route.reasoning or self._settings.llm_reasoning
        key = (route.tiers, reasoning, make is self._make_async_client)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                stack = self._stacks.get(route.tiers)
                if stack is None:
                    inner = self._build(route)
                    if self._state is not None:
                        inner = self._state.cached(inner)
                    stack = self._stacks[route.tiers] = self._observe(inner)
                client = self._clients[key] = make(stack, route.model)
                setattr(client, "reasoning", reasoning)  # noqa: B010  (K is any client type)
            built: K = client
            return built

    def _service_tiers(self) -> Tiers:
        """``LLM_SERVICE`` with ``LLM_POOL`` and ``LLM_FALLBACKS``, as a route's tiers."""
        if self._default_tiers is None:
            config = self._reliability
            pool = tuple(RouteMember(m.target, m.weight) for m in config.pool)
            first = pool or (RouteMember(self._settings.chat_target),)
            self._default_tiers = (first, *((RouteMember(t),) for t in config.fallbacks))
        return self._default_tiers

    def _build(self, route: Route) -> ProviderAdapter:
        """The route's adapter stack: retried targets, pools, then fallbacks."""
        from persona_llm.reliability import FallbackAdapter, PoolAdapter, Target
        from persona_llm.reliability.build import target_adapter

        settings, config, state = self._settings, self._reliability, self._state
        chain: list[Target] = []
        for tier in route.tiers:
            members = [
                Target(
                    target_adapter(settings, m.target, self._adapters, self._policy, state),
                    m.target.model,
                    m.weight,
                )
                for m in tier
            ]
            if len(members) == 1:
                chain.append(members[0])
                continue
            pool = PoolAdapter(
                members,
                strategy=config.pool_strategy,
                circuit_failures=config.circuit_failures,
                circuit_cooldown=config.circuit_cooldown,
                policy=self._policy,
                shared=(
                    state.breakers(config.circuit_failures, config.circuit_cooldown)
                    if state is not None
                    else None
                ),
            )
            chain.append(Target(pool))
        return chain[0].adapter if len(chain) == 1 else FallbackAdapter(chain, self._policy)


def _check_embedding_route(settings: Settings, routed: ServiceTarget) -> None:
    """Resolve the embeddings route (its default model); warn when EMBEDDING_SERVICE wins."""
    resolved = settings.model_copy(update={"embedding_service": None}).embedding_target
    if settings.embedding_service and settings.embedding_target != resolved:
        logger.warning(
            "EMBEDDING_SERVICE=%s wins over the LLM_ROUTES route embeddings=%s",
            settings.embedding_service,
            routed,
        )
