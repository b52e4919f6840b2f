"""Retries with exponential backoff and full jitter, on tenacity, around one adapter.

Only errors marked `retryable` are tried again: `RateLimitError` (429),
`ProviderUnavailableError` (5xx, 529, 409, malformed replies, HTML pages from a proxy),
`LLMTimeoutError` (timeouts, 408) and `APIConnectionError`. Never 400/401/403/404 or a
content filter. A provider's ``Retry-After`` / ``retry-after-ms`` (`retry_after`) sets the
wait instead of the backoff; both are capped by `RetryPolicy.max_wait`. No wait runs past
the call's deadline: the last error is raised instead.

A stream is retried only until its first visible chunk (text, refusal, tool calls, the end;
see `is_visible`) arrives; after that an error reaches the caller, who has already seen part
of the reply. Embeddings are retried as one call.

The SDKs' own retries are off (``max_retries=0``), so every attempt shows in our logs: one
WARNING per retry with provider, model, attempt and wait (error messages are redacted).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from persona_llm.errors import LLMError
from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability.policy import (
    RetryPolicy,
    deadline_scope,
    start_deadline,
    time_left,
)
from persona_llm.reliability.wrapper import (
    AdapterWrapper,
    afirst_visible,
    failing_async_iterator,
    failing_iterator,
    first_visible,
)
from persona_llm.types import ChatChunk, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["RetryingAdapter", "is_retryable"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """Whether trying the same call again may succeed.

    A local rate-limit refusal (``RateLimitError.local``) is not: it already waited for
    room as long as the call's deadline allowed.
    """
    return isinstance(exc, LLMError) and exc.retryable and not getattr(exc, "local", False)


class RetryingAdapter(AdapterWrapper):
    """An adapter whose calls are retried by `policy`.

    Args:
        adapter: the adapter to retry.
        policy: retries, waits, deadline, and the (injectable) clock and sleep.
    """

    def __init__(self, adapter: ProviderAdapter, policy: RetryPolicy | None = None) -> None:
        super().__init__(adapter)
        self.policy = policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"RetryingAdapter({self.adapter!r}, max_retries={self.policy.max_retries})"

    # -- calls, asyncio: the source of the blocking twins below --------------------------

    # unasync: source retry.calls
    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`achat` of the wrapped adapter, retried."""
        return await self._acall(model, lambda: self.adapter.achat(model, request))

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """`aembeddings` of the wrapped adapter, retried as one call."""
        return await self._acall(model, lambda: self.adapter.aembeddings(model, texts, options))

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """`astream` of the wrapped adapter, retried until the first chunk arrives.

        The first attempt's iterator is made now, so a rejected request raises here as it
        does unwrapped (a retryable error here counts as the first attempt's); the request is
        sent when iteration starts.
        """
        try:
            first = self.adapter.astream(model, request)
        except LLMError as error:
            if not is_retryable(error):
                raise
            first = failing_async_iterator(error)
        return self._astream(model, request, first)

    # unasync: end
    # unasync: generated retry.calls (do not edit: scripts/unasync.py writes it)
    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """`chat` of the wrapped adapter, retried."""
        return self._call(model, lambda: self.adapter.chat(model, request))

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """`embeddings` of the wrapped adapter, retried as one call."""
        return self._call(model, lambda: self.adapter.embeddings(model, texts, options))

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """`stream` of the wrapped adapter, retried until the first chunk arrives.

        The first attempt's iterator is made now, so a rejected request raises here as it
        does unwrapped (a retryable error here counts as the first attempt's); the request is
        sent when iteration starts.
        """
        try:
            first = self.adapter.stream(model, request)
        except LLMError as error:
            if not is_retryable(error):
                raise
            first = failing_iterator(error)
        return self._stream(model, request, first)

    # unasync: end

    # -- the retry loops, asyncio: the source of the blocking twins below ----------------

    # The first attempt runs outside tenacity: most calls succeed at once, and building the
    # retry machinery per call cost about as much as the whole adapter. After a retryable
    # failure tenacity takes over, replaying that failure as its attempt 1, so numbering,
    # backoff, logging and the stop rule are exactly as if it had made the call itself.
    # `attempt` is a coroutine function on the asyncio side: tenacity awaits only those.
    # Closing a stream early closes the adapter's (and its HTTP response).

    # unasync: source retry.loops
    async def _acall(self, model: str, call: Callable[[], Awaitable[T]]) -> T:
        deadline = start_deadline(self.policy)
        with deadline_scope(deadline, self.policy.clock):
            try:
                return await call()
            except LLMError as error:
                if not is_retryable(error) or self.policy.max_retries == 0:
                    raise
                first: LLMError | None = error
            from tenacity import AsyncRetrying  # on the first retry: 10 ms saved at start

            retrying = AsyncRetrying(sleep=self.policy.asleep, **self._options(model, deadline))

            async def attempt() -> T:
                nonlocal first
                if first is not None:
                    failed, first = first, None
                    raise failed
                return await call()

            return await retrying(attempt)

    async def _astream(
        self, model: str, request: ChatRequest, first: AsyncIterator[ChatChunk]
    ) -> AsyncIterator[ChatChunk]:
        opened = [first]

        async def open_and_read() -> list[ChatChunk]:
            iterator = opened.pop() if opened else self.adapter.astream(model, request)
            head = await afirst_visible(iterator)
            opened.append(iterator)
            return head

        head = await self._acall(model, open_and_read)
        if not head:
            return
        iterator = opened[-1]
        try:
            for chunk in head:
                yield chunk
            async for chunk in iterator:
                yield chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    # unasync: end
    # unasync: generated retry.loops (do not edit: scripts/unasync.py writes it)
    def _call(self, model: str, call: Callable[[], T]) -> T:
        deadline = start_deadline(self.policy)
        with deadline_scope(deadline, self.policy.clock):
            try:
                return call()
            except LLMError as error:
                if not is_retryable(error) or self.policy.max_retries == 0:
                    raise
                first: LLMError | None = error
            from tenacity import Retrying  # on the first retry: 10 ms saved at start

            retrying = Retrying(sleep=self.policy.sleep, **self._options(model, deadline))

            def attempt() -> T:
                nonlocal first
                if first is not None:
                    failed, first = first, None
                    raise failed
                return call()

            return retrying(attempt)

    def _stream(
        self, model: str, request: ChatRequest, first: Iterator[ChatChunk]
    ) -> Iterator[ChatChunk]:
        opened = [first]

        def open_and_read() -> list[ChatChunk]:
            iterator = opened.pop() if opened else self.adapter.stream(model, request)
            head = first_visible(iterator)
            opened.append(iterator)
            return head

        head = self._call(model, open_and_read)
        if not head:
            return
        iterator = opened[-1]
        try:
            for chunk in head:
                yield chunk
            for chunk in iterator:
                yield chunk
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    # unasync: end

    # -- tenacity settings --------------------------------------------------------------

    def _options(self, model: str, deadline: float | None) -> dict[str, Any]:
        from tenacity import retry_if_exception

        policy = self.policy

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return policy.backoff(state.attempt_number, getattr(error, "retry_after", None))

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > policy.max_retries:
                return True
            left = time_left(policy, deadline)
            return left is not None and state.upcoming_sleep >= left

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.warning(
                "%s/%s failed on attempt %d of %d (%s: %s); retrying in %.2f s",
                self.name,
                model,
                state.attempt_number,
                policy.max_retries + 1,
                type(error).__name__,
                error,
                state.upcoming_sleep,
                extra={
                    "llm_provider": self.name,
                    "llm_model": model,
                    "llm_attempt": state.attempt_number,
                    "llm_wait": state.upcoming_sleep,
                },
            )

        return {
            "retry": retry_if_exception(is_retryable),
            "wait": wait,
            "stop": stop,
            "before_sleep": log_retry,
            "reraise": True,
        }
