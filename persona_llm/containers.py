"""The container: the whole wiring on one screen.

settings → provider configuration → SDK clients → provider adapters → reliability wrappers
(retries, pool, fallbacks) → facades, and the task router (LLM_ROUTES) beside them; each a
thread-safe singleton built on first use.
Provider modules are referenced by dotted path and imported only when that provider is first
built, so importing this module loads no SDK.

Tests replace any level: ``container.chat_client.override(...)``, the facades' adapter
(``container.chat_adapter``), the retry policy (``container.retry_policy``, e.g. with a fake
clock), one adapter (``container.openai.override(...)``) or one SDK client
(``container.openai_sdk.override(...)``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from dependency_injector import containers
from dependency_injector import providers as di

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.settings import OPENAI_COMPATIBLE, load_settings

__all__ = ["Container", "container"]


def lazy(path: str) -> Callable[..., Any]:
    """A callable that imports ``module.attribute`` on first call, then calls it."""
    module_name, _, attribute = path.rpartition(".")

    def build(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    build.__qualname__ = build.__name__ = f"lazy({path})"
    return build


class Kept(di.ThreadSafeSingleton):  # type: ignore[type-arg]
    """A singleton that `reset_clients()` keeps: usage totals and registered hooks."""

    def reset(self) -> Any:
        """Keep the object (reset_singletons() calls this)."""
        return None


class Owned(di.ThreadSafeSingleton):  # type: ignore[type-arg]
    """A singleton whose object is closed when the container resets it (SDK connections).

    `built` is the object, or None before the first call and after a reset.
    """

    built: Any = None

    def _provide(self, args: Any, kwargs: Any) -> Any:
        self.built = super()._provide(args, kwargs)  # type: ignore[misc]
        return self.built

    def reset(self) -> Any:
        built, self.built = self.built, None
        if built is not None and hasattr(built, "close"):
            built.close()
        return super().reset()


class Container(containers.DeclarativeContainer):
    """Settings → SDK clients → provider adapters → facades."""

    settings = di.ThreadSafeSingleton(load_settings)

    # Provider configuration, SDK clients (blocking: one; asyncio: one per event loop) and
    # adapters. A missing key raises ConfigurationError when the provider is first built.
    # openai
    openai_config = settings.provided.provider_config.call("openai")
    openai_sdk = Owned(lazy("persona_llm.providers.openai.adapter.sync_client"), openai_config)
    openai_async_sdk = di.Factory(
        lazy("persona_llm.providers.openai.adapter.async_client"), openai_config
    )
    openai = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.openai.adapter.OpenAIAdapter"),
        config=openai_config,
        client=openai_sdk,
        async_client_factory=openai_async_sdk.provider,
        unsupported_params=settings.provided.llm_unsupported_params,
    )

    # azure
    azure_config = settings.provided.provider_config.call("azure")
    azure_sdk = Owned(lazy("persona_llm.providers.azure.sync_client"), azure_config)
    azure_async_sdk = di.Factory(lazy("persona_llm.providers.azure.async_client"), azure_config)
    azure = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.azure.AzureAdapter"),
        config=azure_config,
        client=azure_sdk,
        async_client_factory=azure_async_sdk.provider,
        unsupported_params=settings.provided.llm_unsupported_params,
    )

    # anthropic
    anthropic_config = settings.provided.provider_config.call("anthropic")
    anthropic_sdk = Owned(
        lazy("persona_llm.providers.anthropic.adapter.sync_client"), anthropic_config
    )
    anthropic_async_sdk = di.Factory(
        lazy("persona_llm.providers.anthropic.adapter.async_client"), anthropic_config
    )
    anthropic = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.anthropic.adapter.AnthropicAdapter"),
        config=anthropic_config,
        client=anthropic_sdk,
        async_client_factory=anthropic_async_sdk.provider,
    )

    # gemini
    gemini_config = settings.provided.provider_config.call("gemini")
    gemini_sdk = Owned(lazy("persona_llm.providers.gemini.adapter.sync_client"), gemini_config)
    gemini_async_sdk = di.Factory(
        lazy("persona_llm.providers.gemini.adapter.async_client"), gemini_config
    )
    gemini = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.gemini.adapter.GeminiAdapter"),
        config=gemini_config,
        client=gemini_sdk,
        async_client_factory=gemini_async_sdk.provider,
    )

    # OpenAI-compatible servers (ollama, vllm, groq, ...): the OpenAI adapter on another URL
    compatible_config = settings.provided.compatible_config
    compatible_sdk = Owned(
        lazy("persona_llm.providers.openai.adapter.sync_client"), compatible_config
    )
    compatible_async_sdk = di.Factory(
        lazy("persona_llm.providers.openai.adapter.async_client"), compatible_config
    )
    compatible = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.openai.adapter.OpenAIAdapter"),
        config=compatible_config,
        client=compatible_sdk,
        async_client_factory=compatible_async_sdk.provider,
        unsupported_params=settings.provided.llm_unsupported_params,
    )

    # fake (offline, no SDK)
    fake = di.ThreadSafeSingleton(
        lazy("persona_llm.providers.fake.FakeProvider"),
        config=settings.provided.provider_config.call("fake"),
    )

    # The provider named in LLM_SERVICE / EMBEDDING_SERVICE
    chat_service = di.Selector(
        settings.provided.chat_provider,
        openai=openai,
        azure=azure,
        anthropic=anthropic,
        gemini=gemini,
        fake=fake,
        **dict.fromkeys(OPENAI_COMPATIBLE, compatible),
    )
    embedding_service = di.Selector(
        settings.provided.embedding_provider,
        openai=openai,
        azure=azure,
        gemini=gemini,
        fake=fake,
        **dict.fromkeys(OPENAI_COMPATIBLE, compatible),
    )

    # State (persona_llm.state): the LLM_STATE store, rate limits, shared breakers, the cache
    state = Owned(lazy("persona_llm.state.build.state_services"), settings)
    keyed_usage = di.Factory(lazy("persona_llm.state.build.keyed_usage"), state)

    # Reliability (persona_llm.reliability): retries around every target, then the LLM_POOL
    # and LLM_FALLBACKS targets around the chat service; the plain adapter when none is set.
    retry_policy = di.ThreadSafeSingleton(
        lazy("persona_llm.reliability.build.retry_policy"),
        settings.provided.reliability,
    )
    adapters = di.Dict(
        openai=openai.provider,
        azure=azure.provider,
        anthropic=anthropic.provider,
        gemini=gemini.provider,
        fake=fake.provider,
    )
    chat_adapter = Owned(
        lazy("persona_llm.reliability.build.chat_adapter"),
        settings=settings,
        primary=chat_service,
        adapters=adapters,
        policy=retry_policy,
        state=state,
    )
    embedding_adapter = Owned(
        lazy("persona_llm.reliability.build.embedding_adapter"),
        settings=settings,
        adapter=embedding_service,
        policy=retry_policy,
        state=state,
    )

    # Usage, cost and observability (persona_llm.usage.observed): one record per facade call,
    # around everything above, so retries and failovers count once and show who answered.
    prices = di.ThreadSafeSingleton(
        lazy("persona_llm.usage.prices.load_prices"),
        file=settings.provided.llm_prices_file,
        overrides=settings.provided.llm_prices,
    )
    usage_tracker = Kept(lazy("persona_llm.usage.tracker.UsageTracker"), keyed=keyed_usage.provider)
    hooks = Kept(lazy("persona_llm.usage.observability.Hooks"))
    tracing = di.ThreadSafeSingleton(
        lazy("persona_llm.usage.observability.Tracing"),
        enabled=settings.provided.llm_otel,
    )
    observe = di.Factory(  # called with inner=<the adapter to observe>
        lazy("persona_llm.usage.observed.ObservedAdapter"),
        tracker=usage_tracker,
        hooks=hooks,
        prices=prices,
        log_content=settings.provided.llm_log_content,
        tracing=tracing,
        notes=settings.provided.state.enabled,
    )
    observed_chat_adapter = di.ThreadSafeSingleton(observe, inner=chat_adapter)
    observed_embedding_adapter = di.ThreadSafeSingleton(observe, inner=embedding_adapter)

    # Facades
    chat_client = di.ThreadSafeSingleton(
        ChatClient,
        adapter=observed_chat_adapter,
        model=settings.provided.chat_target.model,
    )
    async_chat_client = di.ThreadSafeSingleton(
        AsyncChatClient,
        adapter=observed_chat_adapter,
        model=settings.provided.chat_target.model,
    )
    embedding_client = di.ThreadSafeSingleton(
        EmbeddingClient,
        adapter=observed_embedding_adapter,
        model=settings.provided.embedding_target.model,
    )
    async_embedding_client = di.ThreadSafeSingleton(
        AsyncEmbeddingClient,
        adapter=observed_embedding_adapter,
        model=settings.provided.embedding_target.model,
    )

    # Task routing (persona_llm.routing.routes): LLM_ROUTES, checked when the router is first built.
    # A client per distinct route target list, over the adapters above, observed like the
    # facades; unrouted tasks get chat_client / async_chat_client.
    router = Owned(
        lazy("persona_llm.routing.router.Router"),
        settings=settings,
        adapters=adapters,
        policy=retry_policy,
        observe=observe.provider,
        default=chat_client.provider,
        default_async=async_chat_client.provider,
        state=state,
    )


container = Container()
"""The default container behind `get_chat_client()` and friends."""
