"""`CachedAdapter`: the response cache around the facade's adapter stack.

It sits outside the failover and rate-limit wrappers, so a hit takes no rate-limit room and
touches no provider; the usage wrapper outside it sees ``cached=True`` and counts the hit
at no cost. See `persona_llm.state.cache` for what is stored and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability.wrapper import AdapterWrapper
from persona_llm.state.cache import ResponseCache, chat_key, embedding_key, merge_vectors
from persona_llm.types import ChatRequest, ChatResponse, Embeddings, Usage

__all__ = ["CachedAdapter"]


class CachedAdapter(AdapterWrapper):
    """`adapter` with `cache` in front of its chat and embedding calls (streams pass by)."""

    def __init__(self, adapter: ProviderAdapter, cache: ResponseCache) -> None:
        super().__init__(adapter)
        self.cache = cache

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """The stored reply, else the adapter's (stored when it may be)."""
        if not request.cache:
            return self.adapter.chat(model, request)
        key = chat_key(self.name, model, request)
        found = self.cache.get(key)
        if found is not None:
            return found
        response = self.adapter.chat(model, request)
        self.cache.put(key, response)
        return response

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`."""
        if not request.cache:
            return await self.adapter.achat(model, request)
        key = chat_key(self.name, model, request)
        found = await self.cache.aget(key)
        if found is not None:
            return found
        response = await self.adapter.achat(model, request)
        await self.cache.aput(key, response)
        return response

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Known texts from the cache, the others from the adapter (then stored)."""
        options = dict(options)
        if not options.pop("cache", True):
            return self.adapter.embeddings(model, texts, options)
        keys = [embedding_key(self.name, model, options, text) for text in texts]
        known = self.cache.vectors(keys)
        missing = [i for i, vector in enumerate(known) if vector is None]
        fetched: list[list[float]] = []
        if missing:
            fetched = self.adapter.embeddings(model, [texts[i] for i in missing], options)
            self.cache.store_vectors({keys[i]: v for i, v in zip(missing, fetched, strict=True)})
        return _result(known, fetched, missing)

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Asyncio twin of `embeddings`."""
        options = dict(options)
        if not options.pop("cache", True):
            return await self.adapter.aembeddings(model, texts, options)
        keys = [embedding_key(self.name, model, options, text) for text in texts]
        known = await self.cache.avectors(keys)
        missing = [i for i, vector in enumerate(known) if vector is None]
        fetched: list[list[float]] = []
        if missing:
            fetched = await self.adapter.aembeddings(model, [texts[i] for i in missing], options)
            await self.cache.astore_vectors(
                {keys[i]: v for i, v in zip(missing, fetched, strict=True)}
            )
        return _result(known, fetched, missing)


def _result(
    known: Sequence[list[float] | None], fetched: list[list[float]], missing: list[int]
) -> Embeddings:
    merged = merge_vectors(known, fetched)
    usage: Usage | None = getattr(fetched, "usage", None)
    merged.usage = usage  # tokens of the texts actually sent; cached ones cost nothing
    ResponseCache._note(not missing)
    return merged
