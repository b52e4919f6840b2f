"""Asyncio twin of `persona_llm.workflows.embeddings.generate_embeddings`, which is generated
from this module by ``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import Sequence

from persona_llm import facades
from persona_llm.clients import AsyncEmbeddingClient
from persona_llm.routing.routes import EMBEDDINGS
from persona_llm.usage.tracker import track_usage
from persona_llm.workflows.embeddings import DEFAULT_BATCH_SIZE, batched, check_vectors

__all__ = ["generate_embeddings"]


# unasync: source embeddings
async def generate_embeddings(
    texts: Sequence[str],
    *,
    client: AsyncEmbeddingClient | None = None,
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
    embedder = client if client is not None else facades.get_async_embedding_client()
    vectors: list[list[float]] = []
    with track_usage(task=EMBEDDINGS):  # the task's label in the usage totals
        for batch in batches:
            vectors.extend(check_vectors(batch, await embedder.embeddings(batch)))
    return vectors


# unasync: end
