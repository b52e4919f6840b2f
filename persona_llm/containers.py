"""The container: the whole wiring on one screen, no logic (the pieces are in `_wiring`).

settings → one sub-container per provider (config → SDK client → asyncio SDK factory →
adapter) → reliability (retries, pool, fallbacks) → usage (observed) → facades, with the task
router beside them; each a thread-safe singleton built on first use, SDKs imported then.
Tests override any level: ``container.chat_client``, ``container.openai.adapter``,
``container.openai.sdk``, ``container.retry_policy``, ``container.settings``, ...
"""

from __future__ import annotations

from persona_llm._di import containers, di
from persona_llm._wiring import Kept, Owned, lazy, provider, selectable, when_enabled
from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.settings import load_settings

__all__ = ["Container", "container"]


class Container(containers.DeclarativeContainer):
    """Settings → providers → reliability → usage → facades (and the task router)."""

    settings = di.ThreadSafeSingleton(load_settings)
    config = settings.provided.provider_config.call

    # Providers, one line each: a missing key raises ConfigurationError when first built
    openai = provider(config("openai"))
    azure = provider(config("azure"))
    anthropic = provider(config("anthropic"))
    gemini = provider(config("gemini"))
    vertex = provider(config("vertex"))  # Gemini on Vertex AI
    compatible = provider(settings.provided.compatible_config)
    fake = provider(config("fake"))
    adapters = di.Dict(openai=openai.adapter.provider, azure=azure.adapter.provider, anthropic=anthropic.adapter.provider,
                       gemini=gemini.adapter.provider, vertex=vertex.adapter.provider, fake=fake.adapter.provider)  # by provider name, for targets
    chat_service = di.Selector(settings.provided.chat_provider, **selectable(adapters, compatible))
    embedding_service = di.Selector(settings.provided.embedding_provider, **selectable(adapters, compatible))

    # State: the LLM_STATE store, rate limits, shared breakers, keyed budgets, the response cache
    state_config = di.ThreadSafeSingleton(lazy("state.config.StateConfig.from_settings"), settings)
    state = Owned(lazy("state.build.state_services"), settings)
    keyed_usage = di.Factory(lazy("state.build.keyed_usage"), state)
    wrapping = di.Callable(when_enabled, state_config, state.provider)  # None unless a feature is on

    # Reliability: retries around every target, then LLM_POOL and LLM_FALLBACKS
    reliability = di.ThreadSafeSingleton(lazy("reliability.config.ReliabilityConfig.from_settings"), settings)
    retry_policy = di.ThreadSafeSingleton(lazy("reliability.build.retry_policy"), reliability)
    chat_adapter = Owned(
        lazy("reliability.build.chat_adapter"), settings, reliability, chat_service, adapters, retry_policy, wrapping
    )
    embedding_adapter = Owned(lazy("reliability.build.embedding_adapter"), settings, embedding_service, retry_policy, wrapping)

    # Usage, cost and observability: one record per facade call, around everything above
    prices = di.ThreadSafeSingleton(
        lazy("usage.prices.load_prices"), settings.provided.llm_prices_file, settings.provided.llm_prices
    )
    usage_tracker = Kept(lazy("usage.tracker.UsageTracker"), keyed=keyed_usage.provider)
    hooks = Kept(lazy("usage.observability.Hooks"))
    tracing = di.ThreadSafeSingleton(lazy("usage.observability.Tracing"), enabled=settings.provided.llm_otel)
    observe = di.Factory(  # called with inner=<the adapter stack to observe>
        lazy("usage.observed.ObservedAdapter"),
        tracker=usage_tracker, hooks=hooks, prices=prices, tracing=tracing,
        log_content=settings.provided.llm_log_content, notes=state_config.provided.enabled,
    )
    observed_chat_adapter = di.ThreadSafeSingleton(observe, inner=chat_adapter)
    observed_embedding_adapter = di.ThreadSafeSingleton(observe, inner=embedding_adapter)

    # Facades
    chat_model = settings.provided.chat_target.model
    embedding_model = settings.provided.embedding_target.model
    reasoning = settings.provided.llm_reasoning  # LLM_REASONING: calls that pass none
    chat_client = di.ThreadSafeSingleton(ChatClient, observed_chat_adapter, chat_model, reasoning=reasoning)
    async_chat_client = di.ThreadSafeSingleton(AsyncChatClient, observed_chat_adapter, chat_model, reasoning=reasoning)
    embedding_client = di.ThreadSafeSingleton(EmbeddingClient, observed_embedding_adapter, embedding_model)
    async_embedding_client = di.ThreadSafeSingleton(AsyncEmbeddingClient, observed_embedding_adapter, embedding_model)

    # Task routing (LLM_ROUTES): a client per distinct target list; unrouted tasks get chat_client
    router = Owned(
        lazy("routing.router.Router"), settings, adapters, retry_policy, observe.provider,
        chat_client.provider, async_chat_client.provider, ChatClient, AsyncChatClient, state=wrapping,
    )


container = Container()
"""The default container behind `get_chat_client()` and friends."""
