"""Embedding many texts, in batches, with the blocking client.

`generate_embeddings` takes the embedding client from the container at call time
(`persona_llm.get_embedding_client()`, which already falls back to a provider with an
embeddings API), or the one passed as ``client=``; its calls are labelled with the task
``embeddings`` in the usage totals. Its asyncio twin is
`persona_llm.workflows.aio.embeddings.generate_embeddings`; both share the batching below, and
this one is generated from the asyncio one by ``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from persona_llm import facades
from persona_llm.clients import EmbeddingClient
from persona_llm.errors import InvalidRequestError, ResponseParseError
from persona_llm.routing.routes import EMBEDDINGS
from persona_llm.usage.tracker import track_usage

__all__ = ["DEFAULT_BATCH_SIZE", "batched", "check_vectors", "generate_embeddings"]

DEFAULT_BATCH_SIZE = 100
"""Texts per request: within every provider's per-request input limit (Gemini's is 100)."""


def batched(texts: Sequence[str], batch_size: int) -> list[list[str]]:
    """`texts` cut into consecutive batches of at most `batch_size`.

    Raises:
        InvalidRequestError: `texts` is a single string, or `batch_size` is not positive.
    """
    if isinstance(texts, str):
        raise InvalidRequestError("generate_embeddings() takes a list of texts, not a string")
    if batch_size < 1:
        raise InvalidRequestError(f"batch_size must be a positive integer, got {batch_size!r}")
    items = list(texts)
    return [items[start : start + batch_size] for start in range(0, len(items), batch_size)]


def check_vectors(batch: Sequence[str], vectors: list[list[float]]) -> list[list[float]]:
    """`vectors`, after checking there is one per text of `batch`.

    Raises:
        ResponseParseError: the provider returned a different number of vectors.
    """
    if len(vectors) != len(batch):
        raise ResponseParseError(
            f"the embedding provider returned {len(vectors)} vectors for {len(batch)} texts",
            errors=[f"expected {len(batch)} vectors, got {len(vectors)}"],
        )
    return vectors


# unasync: generated embeddings (do not edit: scripts/unasync.py writes it)
def generate_embeddings(
    texts: Sequence[str],
    *,
    client: EmbeddingClient | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[list[float]]:
    """One vector per text, in input order, requested `batch_size` texts at a time.

    Batches are sent one after another, not concurrently, so a long list does not burst
    past the provider's rate limit. An empty list gives ``[]`` without a call (and without
    building a client). A failing batch raises its error; no partial result is returned.
    """
    batches = batched(texts, batch_size)
    if not batches:
        return []
    embedder = client if client is not None else facades.get_embedding_client()
    vectors: list[list[float]] = []
    with track_usage(task=EMBEDDINGS):  # the task's label in the usage totals
        for batch in batches:
            vectors.extend(check_vectors(batch, embedder.embeddings(batch)))
    return vectors


# unasync: end
