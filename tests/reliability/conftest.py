"""Fixtures for the reliability wrappers' tests: named fakes, scripted streams, a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from persona_llm.errors import LLMError
from persona_llm.providers.base import ProviderAdapter
from persona_llm.providers.fake import FakeProvider, FakeReply
from persona_llm.testing.clock import FakeClock
from persona_llm.types import Capabilities, ChatChunk, ChatRequest


def _named_fake(name: str, *replies: FakeReply, **options: Any) -> FakeProvider:
    """A fake provider reporting `name` as its provider (echoes when given no replies)."""
    fake = FakeProvider(list(replies) if replies else None, **options)
    fake.name = name
    return fake


class ScriptedStream(ProviderAdapter):
    """Streams whose failures are scripted per attempt: each script is a list of chunks
    (text) and errors; an error stops that attempt's stream where it stands."""

    name = "scripted"
    capabilities = Capabilities(chat=True, streaming=True)

    def __init__(self, *attempts: list[str | LLMError]) -> None:
        self.attempts = list(attempts)
        self.opened = 0

    def _script(self) -> list[str | LLMError]:
        self.opened += 1
        return self.attempts.pop(0)

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        script = self._script()

        def run() -> Iterator[ChatChunk]:
            for item in script:
                if isinstance(item, LLMError):
                    raise item
                yield ChatChunk(delta=item)
            yield ChatChunk(finish_reason="stop")

        return run()

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        script = self._script()

        async def run() -> AsyncIterator[ChatChunk]:
            for item in script:
                if isinstance(item, LLMError):
                    raise item
                yield ChatChunk(delta=item)
            yield ChatChunk(finish_reason="stop")

        return run()


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock: sleeps are recorded and cost no time."""
    return FakeClock()


@pytest.fixture
def named_fake() -> Any:
    """``named_fake(name, *replies, **options)``: a `FakeProvider` reporting `name`."""
    return _named_fake


@pytest.fixture
def scripted_stream() -> type[ScriptedStream]:
    """The `ScriptedStream` class."""
    return ScriptedStream
