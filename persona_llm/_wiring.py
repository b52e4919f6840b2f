"""The container's building blocks: lazy imports, singleton kinds, the per-provider container.

Kept out of `persona_llm.containers` so that the container itself stays one screen of wiring
with no logic. Provider modules are named by dotted path and imported on first build, so
importing this module loads no SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from persona_llm._di import containers, di
from persona_llm.settings import OPENAI_COMPATIBLE

__all__ = ["Kept", "Owned", "ProviderContainer", "lazy", "provider", "selectable", "when_enabled"]


def lazy(path: str) -> Callable[..., Any]:
    """A callable that imports ``persona_llm.<path>`` on first call, then calls it.

    `path` is ``module.attribute`` or ``module.Class.method`` below ``persona_llm``.
    """
    parts = f"persona_llm.{path}".split(".")

    def build(*args: Any, **kwargs: Any) -> Any:
        for cut in range(len(parts) - 1, 0, -1):
            try:
                target: Any = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
            return target(*args, **kwargs)
        raise ModuleNotFoundError(path)

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


class ProviderContainer(containers.DeclarativeContainer):
    """One provider: its `ProviderConfig` → SDK client → asyncio SDK client factory → adapter.

    The provider's module comes from ``config.name`` (`persona_llm.providers.assemble`); its
    SDK is imported when `sdk` or `adapter` is first built. Override ``.adapter`` to replace
    the provider, ``.sdk`` to keep our adapter over another SDK client.
    """

    config: di.Dependency[Any] = di.Dependency()
    sdk = Owned(lazy("providers.sync_client"), config)
    async_sdk = di.Factory(lazy("providers.async_client"), config)
    adapter = di.ThreadSafeSingleton(lazy("providers.assemble"), config, sdk, async_sdk.provider)


def provider(config: Any) -> di.Container[Any]:
    """A `ProviderContainer` whose configuration is `config` (a provider of `ProviderConfig`).

    Set as the dependency's default, not as an override, so that resetting every override
    (as test fixtures do) keeps the wiring.
    """
    built: di.Container[Any] = di.Container(ProviderContainer)
    built.config.set_default(config)  # type: ignore[attr-defined]
    return built


def selectable(adapters: di.Dict, compatible: Any) -> dict[str, Any]:
    """The adapter provider of every name ``LLM_SERVICE`` accepts: `adapters` (a name → adapter
    provider `Dict`) and, for each OpenAI-compatible preset, the `compatible` container's."""
    named = {name: delegate.provides for name, delegate in adapters.kwargs.items()}
    return named | dict.fromkeys(OPENAI_COMPATIBLE, compatible.adapter)


def when_enabled(config: Any, services: Callable[[], Any]) -> Any:
    """`services()` (the container's `StateServices`) when a state feature is on, else None.

    `config` is the `StateConfig`. With no shared store, rate limits or cache, the state
    services would wrap nothing, so the adapters' builders get None and a first call imports
    none of the state modules; keyed budgets still build them (``container.state``).
    """
    return services() if config.enabled else None
