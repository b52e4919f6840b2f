"""`LimitedAdapter`: one target's calls go through the rate limiter.

It sits inside the retry wrapper (each attempt sent is one request counted) and inside the
failover wrappers, so a local `RateLimitError` hands the call to the next target as a
provider's 429 does. The wait is bounded by the call's deadline (``LLM_DEADLINE``, the
enclosing wrappers' deadline when one runs, else ``LLM_TIMEOUT``).

While an admitted call runs, the adapters hand the headers of its replies (a stream's as it
starts, an error's too) to `persona_llm.providers._raw.collecting`; the
reservation's `observe` turns the provider's rate-limit headers into holds. Calls of targets
without limits collect nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from persona_llm._deadline import CALL_DEADLINE
from persona_llm.providers._rate_limits import plenty_left
from persona_llm.providers._raw import HEADER_SINK, HeaderSink, collecting
from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability.policy import RetryPolicy, start_deadline, time_left
from persona_llm.reliability.wrapper import AdapterWrapper
from persona_llm.state.estimate import chat_tokens, estimate_chat, estimate_texts
from persona_llm.state.limiter import LaneReservation, RateLimiter, Reservation
from persona_llm.state.reservation import Target
from persona_llm.types import ChatChunk, ChatRequest, ChatResponse, Usage

__all__ = ["LimitedAdapter"]

Held = Reservation | LaneReservation


class LimitedAdapter(AdapterWrapper):
    """`adapter`, whose calls reserve room in the matching ``LLM_RATE_LIMITS`` first.

    Args:
        adapter: the target's adapter.
        limiter: the shared limiter.
        policy: its deadline (and an enclosing call's) bounds the wait.
        timeout: the wait when no deadline is set (``LLM_TIMEOUT``).
    """

    def __init__(
        self, adapter: ProviderAdapter, limiter: RateLimiter, policy: RetryPolicy, timeout: float
    ) -> None:
        super().__init__(adapter)
        self.limiter = limiter
        self.policy = policy
        self.timeout = timeout
        self._targets: dict[str, Target] = {}  # model: its limits (the limiter's, kept here)

    def _max_wait(self) -> float:
        if self.policy.deadline is None and CALL_DEADLINE.get() is None:
            return self.timeout  # no deadline anywhere: the usual case, read at once
        left = time_left(self.policy, start_deadline(self.policy))
        return self.timeout if left is None else max(min(left, self.timeout), 0.0)

    def _target(self, model: str) -> Target:
        target = self._targets[model] = self.limiter.target(self.name, model)
        return target

    # unasync: source limited_chat
    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`chat`, after the limiter admitted it."""
        target = self._targets.get(model) or self._target(model)
        if not target.entries:  # no limit applies to this model: nothing to reserve
            return await self.adapter.achat(model, request)
        estimate = chat_tokens(request)
        lane, held = target.lane, None
        record: list[Any] | None = None
        if lane is not None:  # the memory store: its lane takes the call's share inline
            record = lane.take(*estimate)
        if record is None:  # another store, or no room now, or a hold: the limiter decides
            held = await self.limiter.aacquire(self.name, model, estimate, self._max_wait)
            if held is None:
                return await self.adapter.achat(model, request)
        # `collecting()` inline: in the call's notes (set for every call), no calls
        replies: list[Any] = []
        sink, collected = HEADER_SINK.get(), None
        if sink is None:  # no notes around this call: a sink of its own
            sink = HeaderSink()
            collected = HEADER_SINK.set(sink)
        previous, sink.replies = sink.replies, replies
        try:
            response = await self.adapter.achat(model, request)
        except BaseException as error:
            sink.replies = previous
            if collected is not None:
                HEADER_SINK.reset(collected)
            if held is None:
                held = target.lane_held(estimate, record)
            await held.asettle(None, failed=True)
            await held.aobserve(replies, error)
            raise
        sink.replies = previous
        if collected is not None:
            HEADER_SINK.reset(collected)
        if held is None:  # `LaneReservation.finish`, inline
            lane.finish(record, response.usage)  # type: ignore[union-attr]
            if replies and not plenty_left(replies, estimate[0] + estimate[1]):
                target.lane_held(estimate, record).observe(replies)
        else:
            await held.afinish(response.usage, replies)
        return response

    # unasync: end

    # unasync: generated limited_chat (do not edit: scripts/unasync.py writes it)
    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`chat`, after the limiter admitted it."""
        target = self._targets.get(model) or self._target(model)
        if not target.entries:  # no limit applies to this model: nothing to reserve
            return self.adapter.chat(model, request)
        estimate = chat_tokens(request)
        lane, held = target.lane, None
        record: list[Any] | None = None
        if lane is not None:  # the memory store: its lane takes the call's share inline
            record = lane.take(*estimate)
        if record is None:  # another store, or no room now, or a hold: the limiter decides
            held = self.limiter.acquire(self.name, model, estimate, self._max_wait)
            if held is None:
                return self.adapter.chat(model, request)
        # `collecting()` inline: in the call's notes (set for every call), no calls
        replies: list[Any] = []
        sink, collected = HEADER_SINK.get(), None
        if sink is None:  # no notes around this call: a sink of its own
            sink = HeaderSink()
            collected = HEADER_SINK.set(sink)
        previous, sink.replies = sink.replies, replies
        try:
            response = self.adapter.chat(model, request)
        except BaseException as error:
            sink.replies = previous
            if collected is not None:
                HEADER_SINK.reset(collected)
            if held is None:
                held = target.lane_held(estimate, record)
            held.settle(None, failed=True)
            held.observe(replies, error)
            raise
        sink.replies = previous
        if collected is not None:
            HEADER_SINK.reset(collected)
        if held is None:  # `LaneReservation.finish`, inline
            lane.finish(record, response.usage)  # type: ignore[union-attr]
            if replies and not plenty_left(replies, estimate[0] + estimate[1]):
                target.lane_held(estimate, record).observe(replies)
        else:
            held.finish(response.usage, replies)
        return response

    # unasync: end

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """`stream`, admitted before the request is made; settled when it ends, and when
        the caller abandons it (``close()``, or dropping it unfinished)."""
        held = self.limiter.acquire(self.name, model, estimate_chat(request), self._max_wait)
        try:
            chunks = self.adapter.stream(model, request)
        except BaseException:
            if held is not None:
                held.settle(None, failed=True)
            raise
        if held is None:
            return chunks
        settled = _settled(chunks, held)
        next(settled)  # started: from now on closing or dropping it runs its `finally`
        return settled  # type: ignore[return-value]  # the priming None is consumed

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream`: admitted when the first chunk is asked for."""
        return _asettled(self, model, request)

    # unasync: source limited_embeddings
    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """`embeddings`, after the limiter admitted them."""
        estimate = estimate_texts(texts)
        held = await self.limiter.aacquire(self.name, model, estimate, self._max_wait)
        if held is None:
            return await self.adapter.aembeddings(model, texts, options)
        with collecting() as replies:
            try:
                vectors = await self.adapter.aembeddings(model, texts, options)
            except BaseException as error:
                await held.asettle(None, failed=True)
                await held.aobserve(replies, error)
                raise
        await held.afinish(getattr(vectors, "usage", None), replies)
        return vectors

    # unasync: end

    # unasync: generated limited_embeddings (do not edit: scripts/unasync.py writes it)
    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """`embeddings`, after the limiter admitted them."""
        estimate = estimate_texts(texts)
        held = self.limiter.acquire(self.name, model, estimate, self._max_wait)
        if held is None:
            return self.adapter.embeddings(model, texts, options)
        with collecting() as replies:
            try:
                vectors = self.adapter.embeddings(model, texts, options)
            except BaseException as error:
                held.settle(None, failed=True)
                held.observe(replies, error)
                raise
        held.finish(getattr(vectors, "usage", None), replies)
        return vectors

    # unasync: end


_END: Any = object()


def _settled(chunks: Iterator[ChatChunk], held: Held) -> Iterator[ChatChunk | None]:
    """`chunks`, then the reservation settled; the inner stream is closed (its HTTP response
    with it) and the reservation settled however the iteration ends. The provider's headers
    arrive with the first chunk: they are observed then, not at the end of the stream."""
    usage: Usage | None = None
    failed = True
    try:
        yield None  # primed by `LimitedAdapter.stream`
        with collecting() as replies:
            try:
                chunk = next(chunks, _END)
            except BaseException as error:
                held.observe(replies, error)
                raise
        held.observe(replies)
        while chunk is not _END:
            usage = chunk.usage or usage
            yield chunk
            chunk = next(chunks, _END)
        failed = False
    finally:
        try:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        finally:
            held.settle(usage, failed=failed and usage is None)


async def _asettled(
    owner: LimitedAdapter, model: str, request: ChatRequest
) -> AsyncIterator[ChatChunk]:
    estimate = estimate_chat(request)
    held = await owner.limiter.aacquire(owner.name, model, estimate, owner._max_wait)
    usage: Usage | None = None
    failed = True
    chunks: AsyncIterator[ChatChunk] | None = None
    try:
        chunks = owner.adapter.astream(model, request)
        if held is not None:
            chunk = await _afirst(chunks, held)
        else:
            chunk = await anext(chunks, _END)
        while chunk is not _END:
            usage = chunk.usage or usage
            yield chunk
            chunk = await anext(chunks, _END)
        failed = False
    finally:
        try:
            # An abandoned stream (break, aclose, garbage) closes the inner one now, not
            # when the collector gets to it: its HTTP response and connection end here.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if held is not None:
                await held.asettle(usage, failed=failed and usage is None)


async def _afirst(chunks: AsyncIterator[ChatChunk], held: Held) -> Any:
    """The first chunk (or `_END`), the provider's headers that came with it observed."""
    with collecting() as replies:
        try:
            chunk = await anext(chunks, _END)
        except BaseException as error:
            await held.aobserve(replies, error)
            raise
    await held.aobserve(replies)
    return chunk
