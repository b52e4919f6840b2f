"""`StateServices`: the store and the features built on it, as the settings say.

The container builds one per process (``container.state``) and closes it on reset;
`persona_llm.reliability.build` asks it to wrap targets (rate limits), pools (shared
breakers) and the facades' stacks (the response cache); the usage tracker asks it for keyed
budgets. A memory store costs nothing to build; a Redis store connects on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_llm.providers.base import ProviderAdapter
from persona_llm.state.breaker import SharedBreakers
from persona_llm.state.budgets import KeyedUsage
from persona_llm.state.cache import CacheBackend, ResponseCache
from persona_llm.state.config import StateConfig
from persona_llm.state.guard import StoreGuard
from persona_llm.state.limiter import RateLimiter
from persona_llm.state.memory import MemoryStore
from persona_llm.state.store import StateStore

if TYPE_CHECKING:
    from persona_llm.reliability.policy import RetryPolicy
    from persona_llm.settings import Settings

__all__ = ["StateServices", "keyed_usage", "make_store", "state_services"]


def make_store(config: StateConfig) -> StateStore:
    """The store `config.url` names (a Redis one imports redis-py now)."""
    if not config.is_redis:
        return MemoryStore()
    from persona_llm.state.redis import RedisStore

    return RedisStore(config.url, prefix=config.prefix, timeout=config.timeout)


class StateServices:
    """The store, its guard, and what is built on them.

    Args:
        config: the state settings.
        timeout: ``LLM_TIMEOUT``: how long a call may wait for rate-limit room when no
            deadline is set.
        store: the store (built from `config` when None).
    """

    def __init__(
        self, config: StateConfig, *, timeout: float = 60.0, store: StateStore | None = None
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.store = store if store is not None else make_store(config)
        self.guard = StoreGuard(self.store.url, config.on_error)
        self.store.late_error = self.guard.note
        self.keyed = KeyedUsage(self.store, self.guard)
        self.limiter = (
            RateLimiter(self.store, self.guard, config.limits, window=config.window)
            if config.limits
            else None
        )
        self.cache = self._cache()

    def __repr__(self) -> str:
        return f"StateServices({self.store!r})"

    def _cache(self) -> ResponseCache | None:
        cache = self.config.cache
        if cache.kind == "off":
            return None
        backend: CacheBackend
        if cache.kind == "memory":
            backend = MemoryStore()
        elif cache.kind == "sqlite":
            from persona_llm.state.sqlite import SqliteCache

            assert cache.path is not None
            backend = SqliteCache(cache.path)
        else:
            backend = self.store
        return ResponseCache(
            backend,
            self.guard,
            ttl=cache.ttl,
            incomplete=cache.incomplete,
            version=_library_version(),
            # a round trip saved per repeated hit; the other backends are local already
            local_ttl=cache.local_ttl if cache.kind == "redis" else 0.0,
        )

    def limited(
        self, adapter: ProviderAdapter, provider: str, policy: RetryPolicy
    ) -> ProviderAdapter:
        """`adapter` under the rate limits, when any may match `provider`."""
        limiter = self.limiter
        if limiter is None or not any(
            entry.pattern == "*" or entry.pattern.startswith(f"{provider}/")
            for entry in limiter.entries
        ):
            return adapter
        from persona_llm.state.limited import LimitedAdapter

        return LimitedAdapter(adapter, limiter, policy, self.timeout)

    def cached(self, adapter: ProviderAdapter) -> ProviderAdapter:
        """`adapter` behind the response cache, when one is configured."""
        if self.cache is None:
            return adapter
        from persona_llm.state.cached import CachedAdapter

        return CachedAdapter(adapter, self.cache)

    def breakers(self, threshold: int, cooldown: float) -> SharedBreakers | None:
        """Pool breakers in the store: only a shared (Redis) store needs them."""
        if not self.config.is_redis:
            return None
        return SharedBreakers(
            self.store,
            self.guard,
            threshold=threshold,
            cooldown=cooldown,
            probe_ttl=self.timeout,
        )

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()
        close = getattr(self.cache.backend if self.cache else None, "close", None)
        if close is not None and self.cache is not None and self.cache.backend is not self.store:
            close()


def _library_version() -> str:
    """The installed persona-llm version: cache entries of another version are misses."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("persona-llm")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def state_services(settings: Settings) -> StateServices:
    """The container's builder."""
    return StateServices(StateConfig.from_settings(settings), timeout=settings.llm_timeout)


def keyed_usage(services: StateServices) -> KeyedUsage:
    """The keyed budgets of `services` (the usage tracker asks for it on each keyed call)."""
    return services.keyed
