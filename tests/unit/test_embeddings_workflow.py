"""generate_embeddings: batched, ordered, failures raised, blocking and asyncio."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.clients import AsyncEmbeddingClient, EmbeddingClient
from persona_llm.containers import container
from persona_llm.errors import InvalidRequestError, RateLimitError, ResponseParseError
from persona_llm.providers.fake import FakeProvider, fake_vector
from persona_llm.workflows import aio
from persona_llm.workflows.embeddings import DEFAULT_BATCH_SIZE, generate_embeddings

TEXTS = [f"memory number {i}" for i in range(250)]


class FlakyEmbeddings(FakeProvider):
    """A fake whose `fail_on`-th embeddings call fails, or returns one vector too few."""

    def __init__(self, *, fail_on: int, error: BaseException | None = None) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.error = error

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        vectors = super().embeddings(model, texts, options)
        if len(self.calls) == self.fail_on:
            if self.error is not None:
                raise self.error
            return vectors[:-1]
        return vectors


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    """A fake behind the container's blocking and asyncio embedding clients."""
    fake = FakeProvider()
    with (
        container.embedding_client.override(providers.Object(EmbeddingClient(fake, "emb"))),
        container.async_embedding_client.override(
            providers.Object(AsyncEmbeddingClient(fake, "emb"))
        ),
    ):
        yield fake


def batch_sizes(fake: FakeProvider) -> list[int]:
    return [len(call.texts) for call in fake.calls if call.kind == "embeddings"]


def test_batches_keep_the_input_order(fake: FakeProvider) -> None:
    vectors = generate_embeddings(TEXTS)
    assert vectors == [fake_vector(text) for text in TEXTS]
    assert batch_sizes(fake) == [100, 100, 50]
    assert DEFAULT_BATCH_SIZE == 100


def test_the_batch_size_is_a_parameter(fake: FakeProvider) -> None:
    assert len(generate_embeddings(TEXTS[:7], batch_size=3)) == 7
    assert batch_sizes(fake) == [3, 3, 1]


def test_an_explicit_client_is_used() -> None:
    own = FakeProvider(embedding_dimensions=4)
    vectors = generate_embeddings(["a", "b"], client=EmbeddingClient(own, "emb"))
    assert vectors == [fake_vector("a", 4), fake_vector("b", 4)]
    assert batch_sizes(own) == [2]


def test_no_texts_give_no_vectors_without_building_a_client() -> None:
    # Nothing is overridden and no key is set: building the default client would fail.
    assert generate_embeddings([]) == []


@pytest.mark.parametrize(
    ("texts", "batch_size", "message"),
    [("one text", 10, "not a string"), (["a"], 0, "batch_size")],
    ids=["string", "zero-batch"],
)
def test_bad_arguments_are_invalid_requests(
    fake: FakeProvider, texts: Any, batch_size: int, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        generate_embeddings(texts, batch_size=batch_size)
    assert fake.calls == []


def test_a_failing_batch_raises_and_returns_nothing_partial() -> None:
    flaky = FlakyEmbeddings(fail_on=2, error=RateLimitError("slow down", provider="fake"))
    with pytest.raises(RateLimitError):
        generate_embeddings(TEXTS, client=EmbeddingClient(flaky, "emb"))
    assert batch_sizes(flaky) == [100, 100]


def test_a_missing_vector_is_an_error_not_a_gap() -> None:
    short = FlakyEmbeddings(fail_on=1)
    with pytest.raises(ResponseParseError, match="99 vectors for 100 texts"):
        generate_embeddings(TEXTS, client=EmbeddingClient(short, "emb"))


async def test_async_twin_batches_in_order(fake: FakeProvider) -> None:
    vectors = await aio.embeddings.generate_embeddings(TEXTS, batch_size=120)
    assert vectors == [fake_vector(text) for text in TEXTS]
    assert batch_sizes(fake) == [120, 120, 10]


async def test_async_twin_raises_failures() -> None:
    flaky = FlakyEmbeddings(fail_on=1, error=RateLimitError("slow down", provider="fake"))
    with pytest.raises(RateLimitError):
        await aio.generate_embeddings(["a"], client=AsyncEmbeddingClient(flaky, "emb"))


async def test_async_twin_of_nothing() -> None:
    assert await aio.generate_embeddings([]) == []
