"""Reliability: retries, fallbacks across providers, load balancing with a circuit breaker.

Each piece is a `ProviderAdapter` wrapping others, so the facades do not change and a test
can put any of them around any adapter (a fake, or a real one pointed at the emulator)::

    ProviderAdapter
    ├── AdapterWrapper         delegates every call to one adapter
    │   └── RetryingAdapter    retries retryable errors: backoff with full jitter,
    │                          Retry-After honoured, capped, deadline (tenacity)
    └── FailoverAdapter        tries targets in order until one answers
        ├── FallbackAdapter    LLM_FALLBACKS: the primary, then each fallback
        └── PoolAdapter        LLM_POOL: round-robin / weighted random, circuit breaker

`persona_llm.reliability.build` assembles them from the settings for the container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona_llm._lazy import lazy_exports

if TYPE_CHECKING:
    from persona_llm.reliability.balance import CircuitBreaker, PoolAdapter
    from persona_llm.reliability.config import PoolMember, ReliabilityConfig
    from persona_llm.reliability.failover import FailoverAdapter, FallbackAdapter, fails_over
    from persona_llm.reliability.policy import RetryPolicy
    from persona_llm.reliability.retry import RetryingAdapter, is_retryable
    from persona_llm.reliability.wrapper import AdapterWrapper, Target

__all__ = [
    "AdapterWrapper",
    "CircuitBreaker",
    "FailoverAdapter",
    "FallbackAdapter",
    "PoolAdapter",
    "PoolMember",
    "ReliabilityConfig",
    "RetryPolicy",
    "RetryingAdapter",
    "Target",
    "fails_over",
    "is_retryable",
]

# Imported on first use: a first call loads only the modules it needs.
__getattr__ = lazy_exports(
    __name__,
    {
        "CircuitBreaker": "balance",
        "PoolAdapter": "balance",
        "PoolMember": "config",
        "ReliabilityConfig": "config",
        "FailoverAdapter": "failover",
        "FallbackAdapter": "failover",
        "fails_over": "failover",
        "RetryPolicy": "policy",
        "RetryingAdapter": "retry",
        "is_retryable": "retry",
        "AdapterWrapper": "wrapper",
        "Target": "wrapper",
    },
)
