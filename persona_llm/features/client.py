"""What the features need of a chat client: its ``chat`` method, as a protocol.

`persona_llm.clients.ChatClient` and `AsyncChatClient` satisfy these (and so does any test
double with the same method), so the features never import the public surface above them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from persona_llm.types import ChatResponse

__all__ = ["SupportsAsyncChat", "SupportsChat"]


class SupportsChat(Protocol):
    """A blocking chat client."""

    @property
    def chat(self) -> Callable[..., ChatResponse]:
        """``chat(messages, **options)``: send `messages` and return the reply."""
        ...


class SupportsAsyncChat(Protocol):
    """An asyncio chat client."""

    @property
    def chat(self) -> Callable[..., Awaitable[ChatResponse]]:
        """``await chat(messages, **options)``: send `messages` and return the reply."""
        ...
