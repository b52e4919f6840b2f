"""Provider adapters, one package per provider (adapter, mapping, stream, tools).

Each imports its SDK only when its adapter module is loaded.

The container builds adapters for the application. `build_adapter` builds one outside it,
from a `ProviderConfig`, with the same SDK clients — for scripts and HTTP-level tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persona_llm.providers.base import ProviderAdapter
    from persona_llm.settings import ProviderConfig
    from persona_llm.types import Capabilities

__all__ = [
    "adapter_class",
    "assemble",
    "async_client",
    "build_adapter",
    "capabilities_of",
    "sync_client",
]

_ADAPTERS = {
    "openai": ("openai.adapter", "OpenAIAdapter"),
    "azure": ("azure", "AzureAdapter"),
    "anthropic": ("anthropic.adapter", "AnthropicAdapter"),
    "gemini": ("gemini.adapter", "GeminiAdapter"),
    "vertex": ("gemini.adapter", "GeminiAdapter"),
    "fake": ("fake", "FakeProvider"),
}


def _module_and_class(provider: str) -> tuple[Any, str]:
    from persona_llm.errors import ConfigurationError
    from persona_llm.settings import OPENAI_COMPATIBLE

    key = "openai" if provider in OPENAI_COMPATIBLE else provider
    if key not in _ADAPTERS:
        raise ConfigurationError(f"unknown provider {provider!r}")
    module_name, class_name = _ADAPTERS[key]
    return importlib.import_module(f"persona_llm.providers.{module_name}"), class_name


def adapter_class(provider: str) -> type[ProviderAdapter]:
    """The adapter class of a provider name (imports that provider's SDK)."""
    module, class_name = _module_and_class(provider)
    cls: type[ProviderAdapter] = getattr(module, class_name)
    return cls


def capabilities_of(provider: str) -> Capabilities:
    """What provider `provider` can do; embeddings only where `EMBEDDING_PROVIDERS` says so
    (the OpenAI adapter serves presets such as groq that have no embeddings endpoint). The
    adapter reports the same (`ProviderAdapter.capabilities`), so ``persona-llm providers``
    and the clients never disagree."""
    from persona_llm._services import EMBEDDING_PROVIDERS

    capabilities = adapter_class(provider).capabilities
    if capabilities.embeddings and provider not in EMBEDDING_PROVIDERS:
        return capabilities.model_copy(update={"embeddings": False})
    return capabilities


def sync_client(config: ProviderConfig) -> Any:
    """The blocking SDK client of ``config.name`` (None for the fake, which has no SDK)."""
    module, _ = _module_and_class(config.name)
    return None if config.name == "fake" else module.sync_client(config)


def async_client(config: ProviderConfig) -> Any:
    """A new asyncio SDK client of ``config.name`` (None for the fake)."""
    module, _ = _module_and_class(config.name)
    return None if config.name == "fake" else module.async_client(config)


def assemble(
    config: ProviderConfig, client: Any, async_client_factory: Callable[[], Any]
) -> ProviderAdapter:
    """The adapter of ``config.name`` over the given SDK client and asyncio client factory."""
    cls = adapter_class(config.name)
    if config.name == "fake":
        return cls(config=config)  # type: ignore[call-arg]
    return cls(config, client, async_client_factory)  # type: ignore[call-arg]


def build_adapter(config: ProviderConfig, **options: Any) -> ProviderAdapter:
    """An adapter for ``config.name`` with its blocking SDK client and asyncio client factory.

    Extra keyword arguments go to the adapter's constructor (e.g. ``embedding_batch_size``).
    """
    module, class_name = _module_and_class(config.name)
    cls = getattr(module, class_name)
    if config.name == "fake":
        adapter: ProviderAdapter = cls(config=config, **options)
        return adapter
    adapter = cls(
        config, module.sync_client(config), lambda: module.async_client(config), **options
    )
    return adapter
