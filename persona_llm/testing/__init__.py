"""Test support for applications using persona-llm.

- `FakeChatClient` / `FakeEmbeddingClient`: ready-made clients over the fake provider, to pass
  to ``container.chat_client.override(...)`` or to a workflow's ``client=`` argument.
- `FakeAsyncChatClient` / `FakeAsyncEmbeddingClient`: their asyncio twins.
- `override_llm(fake)`: a context manager pointing every facade of the container at one fake.
- `ProviderEmulator` (in `persona_llm.testing.emulator`): a loopback HTTP server speaking the
  providers' wire formats, for testing at the HTTP level through the real SDKs;
  `use_emulator(emulator)` points the container's settings at it for a block.
- `NetworkGuard` (in `persona_llm.testing.network_guard`): blocks non-loopback connections.
- pytest fixtures (`llm_fake`, `llm_emulator`, `llm_network_guard`), the `real_keys` and
  `allow_network` markers and the network guard come from the plugin
  `persona_llm.testing.pytest_plugin`, registered automatically when persona-llm is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from dependency_injector import providers as di

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import Container
from persona_llm.providers.fake import FakeCall, FakeProvider, FakeReply, fake_vector
from persona_llm.settings import OPENAI_COMPATIBLE, Settings, load_settings
from persona_llm.types import ChatRequest

if TYPE_CHECKING:
    from persona_llm.testing.emulator import ProviderEmulator

__all__ = [
    "FakeAsyncChatClient",
    "FakeAsyncEmbeddingClient",
    "FakeCall",
    "FakeChatClient",
    "FakeEmbeddingClient",
    "FakeProvider",
    "FakeReply",
    "emulator_settings",
    "fake_vector",
    "override_llm",
    "use_emulator",
]


class _Scripted:
    """What both fake chat clients add to their client class: the script and the record."""

    fake: FakeProvider

    def __init__(self, replies: Any = None, *, model: str = "fake", **fake_options: Any) -> None:
        self.fake = FakeProvider(replies, **fake_options)
        super().__init__(self.fake, model)  # type: ignore[call-arg]

    @property
    def calls(self) -> list[FakeCall]:
        """Every call the fake received."""
        return self.fake.calls

    @property
    def last_request(self) -> ChatRequest:
        """The request of the latest chat or stream call."""
        return self.fake.last_request

    def enqueue(self, *replies: FakeReply) -> None:
        """Append scripted replies."""
        self.fake.enqueue(*replies)


class FakeChatClient(_Scripted, ChatClient):
    """A blocking chat client over a `FakeProvider` (scripted, recorded, offline).

    Args:
        replies: scripted replies (list) or a function of the messages; None echoes.
        model: the model name the client reports.
        **fake_options: passed to `FakeProvider` (``delay``, ``strict_json``, ...).
    """

    __test__ = False


class FakeEmbeddingClient(EmbeddingClient):
    """A blocking embedding client over a `FakeProvider` (deterministic unit vectors)."""

    __test__ = False

    def __init__(self, *, model: str = "fake", dimensions: int = 8) -> None:
        self.fake = FakeProvider(embedding_dimensions=dimensions)
        super().__init__(self.fake, model)


@contextmanager
def override_llm(
    fake: FakeProvider | None = None,
    *,
    container: Container | None = None,
    model: str = "fake",
) -> Iterator[FakeProvider]:
    """Point the chat and embedding facades (blocking and asyncio) at one fake provider.

    Restores the container when the block exits, even on error.
    """
    if container is None:
        from persona_llm.containers import container as default_container

        container = default_container
    fake = fake if fake is not None else FakeProvider()
    facades: dict[Any, Any] = {
        container.chat_client: ChatClient(fake, model),
        container.async_chat_client: AsyncChatClient(fake, model),
        container.embedding_client: EmbeddingClient(fake, model),
        container.async_embedding_client: AsyncEmbeddingClient(fake, model),
    }
    with ExitStack() as stack:
        for provider, client in facades.items():
            stack.enter_context(provider.override(di.Object(client)))
        yield fake


class FakeAsyncChatClient(_Scripted, AsyncChatClient):
    """The asyncio twin of `FakeChatClient`, for ``container.async_chat_client.override(...)``."""

    __test__ = False


class FakeAsyncEmbeddingClient(AsyncEmbeddingClient):
    """The asyncio twin of `FakeEmbeddingClient`."""

    __test__ = False

    def __init__(self, *, model: str = "fake", dimensions: int = 8) -> None:
        self.fake = FakeProvider(embedding_dimensions=dimensions)
        super().__init__(self.fake, model)


def emulator_settings(emulator: ProviderEmulator, **overrides: Any) -> Settings:
    """`Settings` sending every provider to `emulator`; the rest comes from the environment.

    OpenAI, Azure, Anthropic, Gemini and the OpenAI-compatible presets (served by the
    emulator's OpenAI routes) get a test key and the emulator's URL; timeouts are short
    (5 s, connect 2 s) and retries off, so each SDK attempt is one recorded request. Azure
    gets the deployments ``emulated-chat`` / ``emulated-embedding`` unless the environment
    names its own. Keyword arguments (``llm_service="anthropic/"``, ``llm_max_retries=2``)
    win over all of that.

    Raises:
        ConfigurationError: an override or an environment variable is invalid.
    """
    from persona_llm.testing.emulator import test_key

    environment = load_settings()
    values: dict[str, Any] = {
        "llm_timeout": 5.0,
        "llm_connect_timeout": 2.0,
        "llm_max_retries": 0,
        "openai_base_url": emulator.openai_base_url,
        "azure_api_base": emulator.azure_endpoint,
        "azure_chat_deployment": environment.azure_chat_deployment or "emulated-chat",
        "azure_embedding_deployment": (
            environment.azure_embedding_deployment or "emulated-embedding"
        ),
        "anthropic_base_url": emulator.anthropic_base_url,
        "gemini_base_url": emulator.gemini_base_url,
    }
    for provider in ("openai", "azure", "anthropic", "gemini", *OPENAI_COMPATIBLE):
        values[f"{provider}_api_key"] = test_key(provider)
    for preset in OPENAI_COMPATIBLE:
        values[f"{preset}_base_url"] = emulator.openai_base_url
    return load_settings(**(values | overrides))


@contextmanager
def use_emulator(
    emulator: ProviderEmulator,
    *,
    container: Container | None = None,
    **settings: Any,
) -> Iterator[ProviderEmulator]:
    """Point the container (default: the library's) at a running `emulator` for one block.

    The settings come from `emulator_settings` (keyword arguments override them, e.g.
    ``llm_service="gemini/gemini-3.8-flash"``). Clients built before the block are dropped
    on entry, and clients built inside it on exit, so nothing outlives the block; blocks nest.
    """
    if container is None:
        from persona_llm.containers import container as default_container

        container = default_container
    with container.settings.override(di.Object(emulator_settings(emulator, **settings))):
        container.reset_singletons()
        try:
            yield emulator
        finally:
            container.reset_singletons()
