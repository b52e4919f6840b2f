"""Plain values of the reliability settings: retry policy, fallbacks, the pool.

`ReliabilityConfig.from_settings` builds one from the environment variables
(``LLM_MAX_RETRIES``, ``LLM_RETRY_INITIAL_WAIT``, ``LLM_RETRY_MAX_WAIT``, ``LLM_DEADLINE``,
``LLM_FALLBACKS``, ``LLM_POOL``, ``LLM_POOL_STRATEGY``, ``LLM_CIRCUIT_FAILURES``,
``LLM_CIRCUIT_COOLDOWN``); the container hands it to `persona_llm.reliability.build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from persona_llm.errors import ConfigurationError
from persona_llm.settings import ServiceTarget

if TYPE_CHECKING:
    from persona_llm.settings import Settings

__all__ = ["PoolMember", "ReliabilityConfig"]

PoolStrategy = Literal["round_robin", "random"]


@dataclass(frozen=True)
class PoolMember:
    """One member of ``LLM_POOL``: a target and its weight (``*N``; 1 when not given)."""

    target: ServiceTarget
    weight: int = 1


@dataclass(frozen=True)
class ReliabilityConfig:
    """Retries, fallbacks and the load-balancing pool.

    Targets have their model filled in. The first `pool` member is always ``LLM_SERVICE``;
    an empty `pool` means no pool.
    """

    max_retries: int = 2
    initial_wait: float = 0.5
    max_wait: float = 30.0
    deadline: float | None = None
    fallbacks: tuple[ServiceTarget, ...] = ()
    pool: tuple[PoolMember, ...] = ()
    pool_strategy: PoolStrategy = "round_robin"
    circuit_failures: int = 5
    circuit_cooldown: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ReliabilityConfig:
        """Parse and check the reliability variables of `settings`.

        Raises:
            ConfigurationError: a malformed target or weight, or a pool member named twice.
        """
        fallbacks = tuple(
            settings.resolve_target(text, "LLM_FALLBACKS")
            for text in _items(settings.llm_fallbacks)
        )
        return cls(
            max_retries=settings.llm_max_retries,
            initial_wait=settings.llm_retry_initial_wait,
            max_wait=settings.llm_retry_max_wait,
            deadline=settings.llm_deadline,
            fallbacks=fallbacks,
            pool=_pool(settings),
            pool_strategy=settings.llm_pool_strategy,
            circuit_failures=settings.llm_circuit_failures,
            circuit_cooldown=settings.llm_circuit_cooldown,
        )


def _pool(settings: Settings) -> tuple[PoolMember, ...]:
    """`LLM_POOL` members, LLM_SERVICE first (an entry naming it sets its weight)."""
    entries = _items(settings.llm_pool)
    if not entries:
        return ()
    weights: dict[ServiceTarget, int] = {settings.chat_target: 1}
    listed: set[ServiceTarget] = set()
    for text in entries:
        entry, _, weight = text.rpartition("*") if "*" in text else (text, "", "1")
        if not weight.strip().isdigit() or int(weight) < 1:
            raise ConfigurationError(
                f"LLM_POOL entry {text!r}: the weight after '*' must be a whole number >= 1"
            )
        target = settings.resolve_target(entry, "LLM_POOL")
        if target in listed:
            raise ConfigurationError(f"LLM_POOL names {target} twice")
        listed.add(target)
        weights[target] = int(weight)
    if len(weights) < 2:  # LLM_POOL names only LLM_SERVICE: no pool
        return ()
    return tuple(PoolMember(target, weight) for target, weight in weights.items())


def _items(text: str) -> list[str]:
    """The non-empty entries of a comma-separated list."""
    return [item.strip() for item in text.split(",") if item.strip()]
