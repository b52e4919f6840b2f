"""Test support for applications using persona-llm.

- `FakeChatClient` / `FakeEmbeddingClient`: ready-made clients over the fake provider, to pass
  to ``container.chat_client.override(...)`` or to a workflow's ``client=`` argument.
- `override_llm(fake)`: a context manager pointing every facade of the container at one fake.
- `ProviderEmulator` (in `persona_llm.testing.emulator`): a loopback HTTP server speaking the
  providers' wire formats, for testing at the HTTP level through the real SDKs.
- pytest fixtures (`llm_fake`, ...) come from the plugin `persona_llm.testing.pytest_plugin`,
  registered automatically when persona-llm is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from dependency_injector import providers as di

from persona_llm.clients import AsyncChatClient, AsyncEmbeddingClient, ChatClient, EmbeddingClient
from persona_llm.containers import Container
from persona_llm.providers.fake import FakeCall, FakeProvider, FakeReply, fake_vector
from persona_llm.types import ChatRequest

__all__ = [
    "FakeCall",
    "FakeChatClient",
    "FakeEmbeddingClient",
    "FakeProvider",
    "FakeReply",
    "fake_vector",
    "override_llm",
]


class FakeChatClient(ChatClient):
    """A blocking chat client over a `FakeProvider` (scripted, recorded, offline).

    Args:
        replies: scripted replies (list) or a function of the messages; None echoes.
        model: the model name the client reports.
        **fake_options: passed to `FakeProvider` (``delay``, ``strict_json``, ...).
    """

    __test__ = False

    def __init__(self, replies: Any = None, *, model: str = "fake", **fake_options: Any) -> None:
        self.fake = FakeProvider(replies, **fake_options)
        super().__init__(self.fake, model)

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
