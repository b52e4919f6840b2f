"""The container's builders: the adapters the facades get, wrapped as the settings say.

Chat: retries around every target (``LLM_MAX_RETRIES``), the ``LLM_POOL`` members balanced
with ``LLM_SERVICE`` among them, then ``LLM_FALLBACKS`` after them::

    FallbackAdapter([PoolAdapter([Retrying(LLM_SERVICE), Retrying(member)...]),
                     Retrying(fallback), ...])

Embeddings: retries only (vectors of different models are not comparable, so embeddings
never fail over or balance). With no retries, deadline, fallbacks or pool, the builders return
the provider adapter itself: nothing sits between the facade and the SDK.

Targets without a profile use the container's adapter of their provider (so overriding
``container.anthropic.adapter`` overrides the ``anthropic/...`` fallback too); a target with a
profile (``azure@us/...``), or an OpenAI-compatible preset, gets an adapter and SDK client
of its own, closed when the container is reset. The fake provider is never retried: it has
no network to fail, and a test's scripted error must reach the caller as scripted.

With state features (`persona_llm.state.build.StateServices`): each target's adapter sits
under the rate limiter inside its retries (``Retrying(Limited(adapter))``), a pool keeps its
breakers in a shared store, and the response cache sits outermost, so a hit touches neither
the limiter nor a provider.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from persona_llm._services import routed_embedding_service
from persona_llm.providers import adapter_class
from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability.policy import RetryPolicy
from persona_llm.reliability.retry import RetryingAdapter
from persona_llm.reliability.wrapper import AdapterWrapper, Target
from persona_llm.settings import ServiceTarget

if TYPE_CHECKING:
    from persona_llm.reliability.config import ReliabilityConfig
    from persona_llm.settings import Settings
    from persona_llm.state.build import StateServices

__all__ = ["chat_adapter", "embedding_adapter", "retry_policy", "target_adapter"]

logger = logging.getLogger(__name__)

AdapterFactories = Mapping[str, Callable[[], ProviderAdapter]]


def retry_policy(config: ReliabilityConfig) -> RetryPolicy:
    """The `RetryPolicy` of the settings (real clock and sleep)."""
    return RetryPolicy(
        max_retries=config.max_retries,
        initial_wait=config.initial_wait,
        max_wait=config.max_wait,
        deadline=config.deadline,
    )


def chat_adapter(
    settings: Settings,
    config: ReliabilityConfig,
    primary: ProviderAdapter,
    adapters: AdapterFactories,
    policy: RetryPolicy,
    state: StateServices | None = None,
) -> ProviderAdapter:
    """The chat facades' adapter: `primary` (``LLM_SERVICE``) with retries, pool, fallbacks.

    Args:
        settings: read for the extra targets' configuration.
        config: ``LLM_POOL``, ``LLM_FALLBACKS`` and the breaker settings.
        primary: the adapter of ``LLM_SERVICE``.
        adapters: the container's adapter providers by provider name.
        policy: retries and deadline, shared by every wrapper.
        state: rate limits, shared breakers and the response cache (None: none of them).
    """
    stack = _chat_stack(settings, config, primary, adapters, policy, state)
    return stack if state is None else state.cached(stack)


def _chat_stack(
    settings: Settings,
    config: ReliabilityConfig,
    primary: ProviderAdapter,
    adapters: AdapterFactories,
    policy: RetryPolicy,
    state: StateServices | None,
) -> ProviderAdapter:
    first = Target(_retried(primary, settings.chat_provider, policy, state))
    if config.pool:
        from persona_llm.reliability.balance import PoolAdapter  # imported when configured

        members = [Target(first.adapter, None, config.pool[0].weight)]
        members += [
            Target(
                target_adapter(settings, m.target, adapters, policy, state),
                m.target.model,
                m.weight,
            )
            for m in config.pool[1:]
        ]
        pool = PoolAdapter(
            members,
            strategy=config.pool_strategy,
            circuit_failures=config.circuit_failures,
            circuit_cooldown=config.circuit_cooldown,
            policy=policy,
            shared=(
                state.breakers(config.circuit_failures, config.circuit_cooldown)
                if state is not None
                else None
            ),
        )
        first = Target(pool)
    if not config.fallbacks:
        return first.adapter
    from persona_llm.reliability.failover import FallbackAdapter

    chain = [first] + [
        Target(target_adapter(settings, target, adapters, policy, state), target.model)
        for target in config.fallbacks
    ]
    return FallbackAdapter(chain, policy)


def embedding_adapter(
    settings: Settings,
    adapter: ProviderAdapter,
    policy: RetryPolicy,
    state: StateServices | None = None,
) -> ProviderAdapter:
    """The embedding facades' adapter: the ``EMBEDDING_SERVICE`` adapter with retries
    (under the rate limits, behind the cache, when configured).

    Built once per container; when no EMBEDDING_SERVICE (or embeddings route) pins the
    embedding service, it logs one WARNING: the service follows LLM_SERVICE, and a change of
    chat provider would change the vectors' length and space under an existing index.
    """
    target = settings.embedding_target
    derived = not (settings.embedding_service or routed_embedding_service(settings.llm_routes))
    if derived and target.provider != "fake":
        logger.warning(
            "EMBEDDING_SERVICE is not set: embeddings use %s, derived from LLM_SERVICE=%s. "
            "Another chat provider would change the vectors' length and space under an "
            "existing vector index; set EMBEDDING_SERVICE (and EMBEDDING_DIMENSIONS) to pin them",
            target,
            settings.llm_service,
        )
    retried = _retried(adapter, target.provider, policy, state)
    return retried if state is None else state.cached(retried)


def _retried(
    adapter: ProviderAdapter,
    provider: str,
    policy: RetryPolicy,
    state: StateServices | None = None,
) -> ProviderAdapter:
    if state is not None:
        adapter = state.limited(adapter, provider, policy)
    if (policy.max_retries == 0 and policy.deadline is None) or provider == "fake":
        return adapter  # with a deadline, the wrapper publishes it to the adapter's waits
    return RetryingAdapter(adapter, policy)


def target_adapter(
    settings: Settings,
    target: ServiceTarget,
    adapters: AdapterFactories,
    policy: RetryPolicy,
    state: StateServices | None = None,
) -> ProviderAdapter:
    """The (retried, rate-limited) adapter of a pool member, fallback or route target."""
    if target.profile is None and target.provider in adapters:
        adapter = adapters[target.provider]()
    else:
        adapter = _own_adapter(settings, target)
    return _retried(adapter, target.provider, policy, state)


def _own_adapter(settings: Settings, target: ServiceTarget) -> ProviderAdapter:
    """An adapter with its own SDK client, for a profile or an OpenAI-compatible preset."""
    config = settings.target_config(target)
    cls: Any = adapter_class(target.provider)
    if target.provider == "fake":
        adapter: ProviderAdapter = cls(config=config)
        return adapter
    module = importlib.import_module(cls.__module__)
    client = module.sync_client(config)
    adapter = cls(config, client, lambda: module.async_client(config))
    return _Owning(adapter, client)


class _Owning(AdapterWrapper):
    """An adapter together with the blocking SDK client it was built with; closes both."""

    def __init__(self, adapter: ProviderAdapter, client: Any) -> None:
        super().__init__(adapter)
        self.client = client

    def close(self) -> None:
        """Close the adapter's asyncio clients, then its blocking SDK client."""
        self.adapter.close()
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
