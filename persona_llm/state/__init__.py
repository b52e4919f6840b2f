"""Shared state: one store (memory or Redis) for rate limits, the pool's circuit breaker,
keyed budgets and the response cache.

* `persona_llm.state.store`: the interface; `memory.MemoryStore`, `redis.RedisStore`.
* `persona_llm.state.limiter`: ``LLM_RATE_LIMITS``; `limited.LimitedAdapter` applies it,
  `reservation` holds an admitted call's share, `lane` is the memory store's fast path.
* `persona_llm.state.breaker`: the pool's breakers in the store.
* `persona_llm.state.budgets`: ``track_usage(key=..., period=...)``.
* `persona_llm.state.cache`: ``LLM_CACHE``; `cached.CachedAdapter` applies it.
* `persona_llm.state.guard`: ``LLM_STATE_ON_ERROR`` when the store fails.

This package sits beside usage/reliability/routing: the features, providers and core never
import it. Nothing here imports redis-py until a Redis store is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_llm._lazy import lazy_exports

if TYPE_CHECKING:
    from persona_llm.state.config import StateConfig, redact_url
    from persona_llm.state.store import StateStore, StoreError

__all__ = ["StateConfig", "StateStore", "StoreError", "redact_url"]

# Imported on first use: a first call loads only the modules it needs.
__getattr__ = lazy_exports(
    __name__,
    {
        "StateConfig": "config",
        "redact_url": "config",
        "StateStore": "store",
        "StoreError": "store",
    },
)
