"""The response cache (``LLM_CACHE``): same request, same reply, no provider call.

The key is a SHA-256 of the whole normalized request: provider, model, every message (each
content part, binary data by its hash), every option, tools, tool choice, response format
(which carries a ``response_model``'s JSON schema) and provider options such as a reasoning
level. Any difference is a miss.

* A hit returns the stored `ChatResponse` with ``cached=True``; its `usage` is the original
  call's, and the usage report counts it as a hit costing 0.
* A miss stores the reply after the call succeeded, never an error, and never a refusal,
  a ``content_filter`` or a ``length``-truncated reply unless ``LLM_CACHE_INCOMPLETE=true``.
* ``chat(..., cache=False)`` skips the cache for one call. Streams are not cached.
* Embeddings are cached per text: a batch of 100 texts of which 90 are known sends 10.
* An entry that does not parse, or was written by another library version, is a miss and
  is overwritten. A cache that fails (Redis down) is a miss too, in both
  ``LLM_STATE_ON_ERROR`` modes: a cache never refuses a call.

Backends: ``memory`` (this process), ``sqlite:///path.db`` (`SqliteCache`: one file,
shared by the processes of one machine) and ``redis`` (the ``LLM_STATE`` store).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from persona_llm.state.guard import StoreGuard
from persona_llm.state.notes import current_notes
from persona_llm.state.store import StoreError
from persona_llm.types import ChatRequest, ChatResponse, Embeddings

__all__ = ["CacheBackend", "ResponseCache", "chat_key", "embedding_key"]

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: keys from the field values (1 hashed model_dump output)
DECODED_ENTRIES = 256  # decoded replies kept per cache (the dict is emptied when full)
_INCOMPLETE = frozenset({"length", "content_filter"})


class CacheBackend(Protocol):
    """Where entries live: `MemoryStore`, `RedisStore` or `SqliteCache`."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...

    async def aget_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def aset_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...


def _plain(value: Any) -> Any:
    """JSON stand-in for what json cannot encode: bytes by hash, models by their dump."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(bytes(value)).hexdigest()}
    content_hash = getattr(value, "content_hash", None)
    if callable(content_hash):
        return {"content_hash": content_hash()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    return repr(value)


def _digest(kind: str, data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=_plain, separators=(",", ":"))
    return f"cache:{kind}:" + hashlib.sha256(text.encode()).hexdigest()


def _fields(model: Any, *skip: str) -> dict[str, Any]:
    """A model's field values, unconverted: `json.dumps` turns nested models into their
    dump through `_plain`, so the key sees every field at a fraction of `model_dump`'s cost
    (no serializer run for the plain values, which are most of a request)."""
    return {name: value for name, value in model.__dict__.items() if name not in skip}


def _message(message: Any) -> Any:
    """A message for the key: content parts by their `fingerprint()` (a hash of what the part
    sends), so an image or a PDF costs one hash, not its bytes in the key's JSON."""
    content = message.content
    if isinstance(content, str):
        return message.__dict__
    dumped = _fields(message, "content")
    dumped["content"] = [
        {"fingerprint": part.fingerprint()} if hasattr(part, "fingerprint") else part
        for part in content
    ]
    return dumped


def chat_key(provider: str, model: str, request: ChatRequest) -> str:
    """The cache key of a chat request."""
    dumped = _fields(request, "cache", "messages")
    dumped["messages"] = [_message(m) for m in request.messages]
    return _digest("chat", {"f": FORMAT, "provider": provider, "model": model, "request": dumped})


def embedding_key(provider: str, model: str, options: Mapping[str, Any], text: str) -> str:
    """The cache key of one text's embedding."""
    data = {"f": FORMAT, "provider": provider, "model": model, "options": options, "text": text}
    return _digest("embedding", data)


class ResponseCache:
    """Reads and writes entries on a backend, never raising for the backend's sake.

    Args:
        backend: where entries live.
        guard: counts backend failures (a failure is a miss).
        ttl: seconds an entry lives (None: until evicted).
        incomplete: also store refusals and truncated replies.
        version: the library version written into entries; others are ignored.
    """

    def __init__(
        self,
        backend: CacheBackend,
        guard: StoreGuard,
        *,
        ttl: float | None = 86400.0,
        incomplete: bool = False,
        version: str = "",
    ) -> None:
        self.backend = backend
        self.guard = guard
        self.ttl = ttl
        self.incomplete = incomplete
        self.version = version
        # entry bytes -> the reply they decode to: a hit on an entry seen before costs a
        # dict lookup and a shallow copy, not a JSON parse and a validation
        self._decoded: dict[bytes, ChatResponse] = {}

    # -- encoding -----------------------------------------------------------------------

    def _encode(self, payload: Any) -> bytes:
        return json.dumps({"f": FORMAT, "v": self.version, "p": payload}).encode()

    def _decode(self, raw: bytes | None) -> Any:
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if entry.get("f") != FORMAT or entry.get("v") != self.version:
                return None
            return entry["p"]
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def _response(self, raw: bytes | None) -> ChatResponse | None:
        if raw is None:
            return None
        known = self._decoded.get(raw)
        if known is not None:
            return known.model_copy()
        payload = self._decode(raw)
        if payload is None:
            return None
        try:
            response = ChatResponse.model_validate({**payload, "cached": True, "cost_usd": 0.0})
        except (ValueError, TypeError):
            return None
        if len(self._decoded) >= DECODED_ENTRIES:
            self._decoded.clear()
        self._decoded[raw] = response
        return response.model_copy()

    def storable(self, response: ChatResponse) -> bool:
        """Whether a reply may be stored (complete, not a refusal, unless asked)."""
        if self.incomplete:
            return True
        return response.refusal is None and response.finish_reason not in _INCOMPLETE

    def _entry(self, response: ChatResponse) -> bytes:
        return self._encode(response.model_dump(mode="json", exclude={"raw", "cached"}))

    @staticmethod
    def _note(hit: bool) -> None:
        notes = current_notes()
        if notes is not None:
            notes.cache = "hit" if hit else "miss"

    # -- chat ---------------------------------------------------------------------------

    def get(self, key: str) -> ChatResponse | None:
        """The stored reply of `key`, or None."""
        try:
            found = self.guard.run("read the cache", lambda: self.backend.get_many([key]))[0]
        except StoreError as error:
            self.guard.note(error, "read the cache")
            found = None
        response = self._response(found)
        self._note(response is not None)
        return response

    async def aget(self, key: str) -> ChatResponse | None:
        """Asyncio twin of `get`."""
        try:
            self.guard.check()
            found = (await self.backend.aget_many([key]))[0]
        except StoreError as error:
            self.guard.note(error, "read the cache")
            found = None
        response = self._response(found)
        self._note(response is not None)
        return response

    def put(self, key: str, response: ChatResponse) -> None:
        """Store `response` if it may be stored."""
        if self.storable(response):
            self._write({key: self._entry(response)})

    async def aput(self, key: str, response: ChatResponse) -> None:
        """Asyncio twin of `put`."""
        if self.storable(response):
            await self._awrite({key: self._entry(response)})

    def _write(self, items: Mapping[str, bytes]) -> None:
        try:
            self.guard.run("write the cache", lambda: self.backend.set_many(items, self.ttl))
        except StoreError as error:
            self.guard.note(error, "write the cache")

    async def _awrite(self, items: Mapping[str, bytes]) -> None:
        try:
            self.guard.check()
            await self.backend.aset_many(items, self.ttl)
        except StoreError as error:
            self.guard.note(error, "write the cache")

    # -- embeddings ---------------------------------------------------------------------

    def vectors(self, keys: Sequence[str]) -> list[list[float] | None]:
        """The stored vector of each key (None where unknown)."""
        try:
            found = self.guard.run("read the cache", lambda: self.backend.get_many(keys))
        except StoreError as error:
            self.guard.note(error, "read the cache")
            found = [None] * len(keys)
        return [self._vector(raw) for raw in found]

    async def avectors(self, keys: Sequence[str]) -> list[list[float] | None]:
        """Asyncio twin of `vectors`."""
        try:
            self.guard.check()
            found = await self.backend.aget_many(keys)
        except StoreError as error:
            self.guard.note(error, "read the cache")
            found = [None] * len(keys)
        return [self._vector(raw) for raw in found]

    def _vector(self, raw: bytes | None) -> list[float] | None:
        payload = self._decode(raw)
        if isinstance(payload, list) and all(isinstance(x, (int, float)) for x in payload):
            return [float(x) for x in payload]
        return None

    def store_vectors(self, items: Mapping[str, list[float]]) -> None:
        """Store one vector per key."""
        if items:
            self._write({key: self._encode(vector) for key, vector in items.items()})

    async def astore_vectors(self, items: Mapping[str, list[float]]) -> None:
        """Asyncio twin of `store_vectors`."""
        if items:
            await self._awrite({key: self._encode(vector) for key, vector in items.items()})


def merge_vectors(
    known: Sequence[list[float] | None], fetched: Sequence[list[float]]
) -> Embeddings:
    """The known vectors with the fetched ones filled in where none was known, in order."""
    out: list[list[float]] = []
    new = iter(fetched)
    for vector in known:
        out.append(vector if vector is not None else next(new))
    return Embeddings(out)
