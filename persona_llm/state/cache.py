"""The response cache (``LLM_CACHE``): same request, same reply, no provider call.

The key is a hash of the whole normalized request (`persona_llm.state._keys`): provider,
model, every message (each content part, binary data by its hash), every option, tools,
tool choice, response format (which carries a ``response_model``'s JSON schema) and
provider options such as a reasoning level. Any difference is a miss.

* A hit returns the stored `ChatResponse` with ``cached=True``; its `usage` is the original
  call's, and the usage report counts it as a hit costing 0.
* A miss stores the reply after the call succeeded, never an error, and never a refusal,
  a ``content_filter`` or a ``length``-truncated reply unless ``LLM_CACHE_INCOMPLETE=true``.
* ``chat(..., cache=False)`` skips the cache for one call. Streams are not cached.
* Embeddings are cached per text: a batch of 100 texts of which 90 are known sends 10.
* An entry that does not parse, or was written by another library version, is a miss and
  is overwritten (the format: `persona_llm.state._entries`). A cache that fails (Redis
  down) is a miss too, in both ``LLM_STATE_ON_ERROR`` modes: a cache never refuses a call.
* On Redis, each process keeps the chat replies it read for ``LLM_CACHE_LOCAL_TTL`` seconds
  (5; 0 turns it off), never past the entry's own expiry, at most `LOCAL_ENTRIES` of them:
  the same request again in that worker is a hit without a round trip. An entry never
  changes for its key (the key is a hash of the request), so the only staleness is an
  entry deleted from Redis by hand, still served by a worker for up to that many seconds.

Backends: ``memory`` (this process), ``sqlite:///path.db`` (`SqliteCache`: one file,
shared by the processes of one machine) and ``redis`` (the ``LLM_STATE`` store).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from persona_llm.messages import filled
from persona_llm.state import _entries
from persona_llm.state._keys import chat_key, embedding_key
from persona_llm.state.guard import StoreGuard
from persona_llm.state.notes import current_notes
from persona_llm.state.store import StoreError
from persona_llm.types import ChatResponse, Embeddings

__all__ = ["CacheBackend", "ResponseCache", "chat_key", "embedding_key"]

logger = logging.getLogger(__name__)

DECODED_ENTRIES = 256  # decoded replies kept per cache (the dict is emptied when full)
LOCAL_ENTRIES = 256  # replies kept per process by key (LLM_CACHE_LOCAL_TTL), oldest out first
_INCOMPLETE = frozenset({"length", "content_filter"})


class CacheBackend(Protocol):
    """Where entries live: `MemoryStore`, `RedisStore` or `SqliteCache`."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...

    async def aget_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def aset_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...


class ResponseCache:
    """Reads and writes entries on a backend, never raising for the backend's sake.

    Args:
        backend: where entries live.
        guard: counts backend failures (a failure is a miss).
        ttl: seconds an entry lives (None: until evicted).
        incomplete: also store refusals and truncated replies.
        version: the library version written into entries; others are ignored.
        local_ttl: seconds a reply read from the backend is kept in this process by key
            (0: not kept; the state services set it for Redis only).
        clock, wall: monotonic and epoch seconds (tests pass their own).
    """

    def __init__(
        self,
        backend: CacheBackend,
        guard: StoreGuard,
        *,
        ttl: float | None = 86400.0,
        incomplete: bool = False,
        version: str = "",
        local_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.guard = guard
        self.ttl = ttl
        self.incomplete = incomplete
        self.version = version
        self.local_ttl = local_ttl
        self._clock, self._wall = clock, wall
        # entry bytes -> the reply they decode to and the entry's expiry (epoch seconds): a
        # hit on an entry seen before costs a dict lookup and a shallow copy, not a JSON
        # parse and a validation
        self._decoded: dict[bytes, tuple[ChatResponse, float | None]] = {}
        # key -> (monotonic time it is dropped, reply): hits without asking the backend
        self._local: dict[str, tuple[float, ChatResponse]] = {}
        self._local_lock = threading.Lock()

    # -- entries (`persona_llm.state._entries`) ------------------------------------------

    def _encode(self, payload: Any) -> bytes:
        return _entries.encode(payload, self.version, self._wall() + self.ttl if self.ttl else None)

    def _decode(self, raw: bytes | None) -> Any:
        entry = None if raw is None else _entries.decode(raw, self.version)
        return None if entry is None else entry[0]

    def _response(self, raw: bytes) -> tuple[ChatResponse, float | None] | None:
        """The reply `raw` decodes to (not copied) and the entry's expiry, or None."""
        entry = _entries.decode(raw, self.version)
        if entry is None:
            return None
        response = _entries.to_reply(entry[0])
        if response is None:
            return None
        if len(self._decoded) >= DECODED_ENTRIES:
            self._decoded.clear()
        found = self._decoded[raw] = (response, entry[1])
        return found

    # -- replies kept in this process (LLM_CACHE_LOCAL_TTL) -----------------------------

    def _kept(self, key: str) -> ChatResponse | None:
        found = self._local.get(key)
        if found is None:
            return None
        if self._clock() < found[0]:
            return found[1]
        with self._local_lock:
            self._local.pop(key, None)
        return None

    def _keep(self, key: str, response: ChatResponse, expires: float | None) -> None:
        """Keep a reply read from the backend, never past the entry's own expiry."""
        now = self._clock()
        until = now + self.local_ttl
        if expires is not None:
            until = min(until, now + expires - self._wall())
        if until <= now:
            return
        with self._local_lock:
            self._local.pop(key, None)
            self._local[key] = (until, response)
            if len(self._local) > LOCAL_ENTRIES:
                del self._local[next(iter(self._local))]

    def _found(self, key: str, raw: bytes | None) -> ChatResponse | None:
        """The hit that `raw` (read for `key`) is, kept locally; a copy of its own."""
        decoded = None if raw is None else (self._decoded.get(raw) or self._response(raw))
        notes = current_notes()
        if notes is not None:
            notes.cache = "miss" if decoded is None else "hit"
        if decoded is None:
            return None
        if self.local_ttl:
            self._keep(key, *decoded)
        return _copy(decoded[0])

    def storable(self, response: ChatResponse) -> bool:
        """Whether a reply may be stored (complete, not a refusal, unless asked)."""
        if self.incomplete:
            return True
        return response.refusal is None and response.finish_reason not in _INCOMPLETE

    def _entry(self, response: ChatResponse) -> bytes:
        return self._encode(_entries.reply_payload(response))

    @staticmethod
    def _note(hit: bool) -> None:
        notes = current_notes()
        if notes is not None:
            notes.cache = "hit" if hit else "miss"

    # -- chat ---------------------------------------------------------------------------

    def get(self, key: str) -> ChatResponse | None:
        """The stored reply of `key`, or None."""
        if self.local_ttl and (kept := self._kept(key)) is not None:
            self._note(True)
            return _copy(kept)
        guard = self.guard
        try:
            if guard.down_until:  # `StoreGuard.run`, inline: a hit's every call counts
                guard.check()
            found = self.backend.get_many((key,))[0]
        except StoreError as error:
            guard.note(error, "read the cache")
            found = None
        return self._found(key, found)

    async def aget(self, key: str) -> ChatResponse | None:
        """Asyncio twin of `get`."""
        if self.local_ttl and (kept := self._kept(key)) is not None:
            self._note(True)
            return _copy(kept)
        guard = self.guard
        try:
            if guard.down_until:
                guard.check()
            found = (await self.backend.aget_many((key,)))[0]
        except StoreError as error:
            guard.note(error, "read the cache")
            found = None
        return self._found(key, found)

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


def _copy(response: ChatResponse) -> ChatResponse:
    """A copy of a kept reply for one hit, in a fraction of ``model_copy()``'s time: the
    caller may change its reply's fields and its lists and dict, never the kept reply's."""
    fields = response.__dict__.copy()
    tool_calls, choices, data = fields["tool_calls"], fields["choices"], fields["provider_data"]
    fields["tool_calls"] = list(tool_calls) if tool_calls else []
    fields["choices"] = list(choices) if choices else []
    fields["provider_data"] = dict(data) if data else {}
    return filled(ChatResponse, fields, set(response.__pydantic_fields_set__), response)


def merge_vectors(
    known: Sequence[list[float] | None], fetched: Sequence[list[float]]
) -> Embeddings:
    """The known vectors with the fetched ones filled in where none was known, in order."""
    out: list[list[float]] = []
    new = iter(fetched)
    for vector in known:
        out.append(vector if vector is not None else next(new))
    return Embeddings(out)
