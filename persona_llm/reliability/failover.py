"""Failover across targets: `FallbackAdapter` (``LLM_FALLBACKS``) and the base of the pool.

A call tries its targets in order. A target that fails with an error that another target
may not have — a retryable error (after that target's own retries), or an
`AuthenticationError`, `PermissionDeniedError` or `NotFoundError` on that provider — hands
the call to the next target, with a WARNING naming both. Any other error (a 400, a content
filter, a reply that does not parse) is the request's own fault and is raised at once.

When every target failed, the error raised is the **first** target's (the primary's: its
class, provider, model and `retry_after`), its message ends with a summary of every
target's failure, and `error.failures` holds each target's error in the order tried. A
request-level error raised after earlier failovers carries the same `failures`.

Streams fail over only before their first visible chunk. Embeddings never fail over: vectors of
different models are not comparable, so they always go to the first target.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from persona_llm.errors import (
    AuthenticationError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
)
from persona_llm.providers.base import ProviderAdapter
from persona_llm.reliability.policy import (
    RetryPolicy,
    deadline_scope,
    start_deadline,
    time_left,
)
from persona_llm.reliability.wrapper import (
    AdapterWrapper,
    Target,
    afirst_visible,
    common_capabilities,
    failing_async_iterator,
    failing_iterator,
    first_visible,
)
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = ["FailoverAdapter", "FallbackAdapter", "fails_over"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_SUMMARY = " — every target failed: "
_PROVIDER_SIDE = (AuthenticationError, PermissionDeniedError, NotFoundError)


def fails_over(error: LLMError) -> bool:
    """Whether another target may succeed where this one failed."""
    return error.retryable or isinstance(error, _PROVIDER_SIDE)


class _Call:
    """One call's way through its targets: the failures so far and the deadline."""

    def __init__(self, owner: FailoverAdapter, model: str, plan: Sequence[Target]) -> None:
        self.owner = owner
        self.model = model
        self.plan = plan
        self.failures: list[LLMError] = []
        self.deadline = start_deadline(owner.policy)

    def check(self, index: int, error: LLMError) -> None:
        """Raise `error` (with this call's failures) unless it fails over; the owner's
        `_failed` hook is told of it next, then `failed`."""
        if not _fails_over_inside(self.plan[index].adapter):
            _forget_summary(error)  # a plain target's error: no failures of its own
        if not fails_over(error):
            raise self.summary(error)

    def failed(self, index: int, error: LLMError) -> None:
        """Record that ``plan[index]`` failed; raise unless the next target is to be tried."""
        target = self.plan[index]
        self.failures.append(error)
        left = time_left(self.owner.policy, self.deadline)
        if index + 1 >= len(self.plan) or (left is not None and left <= 0):
            raise self.summary(self.failures[0])
        logger.warning(
            "%s failed (%s: %s); failing over to %s",
            target.label(self.model),
            type(error).__name__,
            error,
            self.plan[index + 1].label(self.model),
            extra={"llm_provider": error.provider, "llm_model": error.model},
        )

    def summary(self, error: LLMError) -> LLMError:
        """`error`, carrying every failure of this call (see the module docstring)."""
        failures: list[LLMError] = []
        for failure in [*self.failures, error]:
            for item in failure.failures or [failure]:
                if all(item is not seen for seen in failures):
                    failures.append(item)
        if len(failures) < 2:
            return error
        error.failures = failures
        listed = "; ".join(
            f"{f.provider}/{f.model}: {type(f).__name__}"
            + (f", HTTP {f.status_code}" if f.status_code else "")
            for f in failures
        )
        error.message = f"{error.message.split(_SUMMARY)[0]}{_SUMMARY}[{listed}]"
        error.args = (error.message,)
        return error


def _fails_over_inside(adapter: ProviderAdapter) -> bool:
    """Whether `adapter` is (or wraps) a failover of its own, whose errors carry failures."""
    while isinstance(adapter, AdapterWrapper):
        adapter = adapter.adapter
    return isinstance(adapter, FailoverAdapter)


def _forget_summary(error: LLMError) -> None:
    """Clear what an earlier call's summary left on `error` (a test may raise one twice)."""
    if error.failures:
        error.failures = []
        error.message = error.message.split(_SUMMARY)[0]
        error.args = (error.message,)


class FailoverAdapter(ProviderAdapter):
    """Calls its targets in the order `_plan` gives until one succeeds.

    `name` is the first target's provider; `capabilities` are what every target can do
    (embeddings: the first target's). Subclasses choose the order and observe the outcomes.

    Args:
        targets: what to call, each with its own model (None: the caller's).
        policy: its `deadline` bounds the whole call, failovers included.
    """

    def __init__(self, targets: Sequence[Target], policy: RetryPolicy | None = None) -> None:
        if not targets:
            raise ValueError(f"{type(self).__name__} needs at least one target")
        self.targets = tuple(targets)
        self.policy = policy or RetryPolicy()
        self.name = self.targets[0].adapter.name
        self._capabilities = common_capabilities(self.targets)

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]  # a ClassVar on adapters
        """What every target can do (embeddings: the first target's)."""
        return self._capabilities

    def __repr__(self) -> str:
        targets = ", ".join(f"{t.adapter!r}:{t.model or '*'}" for t in self.targets)
        return f"{type(self).__name__}([{targets}])"

    # -- hooks --------------------------------------------------------------------------

    def _plan(self, model: str) -> list[Target]:
        """The targets to try for one call, in order (never empty)."""
        return list(self.targets)

    def _succeeded(self, target: Target, model: str) -> None:
        """Called when `target` answered (`model`: the caller's)."""

    def _failed(self, target: Target, model: str, error: LLMError) -> None:
        """Called when `target` failed with an error that fails over."""

    # The asyncio calls' hooks: a subclass whose hooks do I/O (the pool's breakers in a
    # shared store) overrides these so that the event loop is never blocked.

    async def _aplan(self, model: str) -> list[Target]:
        """Asyncio twin of `_plan`."""
        return self._plan(model)

    async def _asucceeded(self, target: Target, model: str) -> None:
        """Asyncio twin of `_succeeded`."""
        self._succeeded(target, model)

    async def _afailed(self, target: Target, model: str, error: LLMError) -> None:
        """Asyncio twin of `_failed`."""
        self._failed(target, model, error)

    def check_request(self, model: str, request: ChatRequest) -> None:
        """Raise the first target's refusal if no target can take `request`."""
        self._able(self.targets, model, request)

    def _able(self, plan: Sequence[Target], model: str, request: ChatRequest) -> list[Target]:
        """The targets of `plan` that can take `request`'s content parts; the others are
        skipped with a WARNING, and the first refusal is raised if none can."""
        if all(type(message.content) is str for message in request.messages):
            return list(plan)  # plain text: every target takes it (the common, fast path)
        able: list[Target] = []
        refusals: list[InvalidRequestError] = []
        for target in plan:
            try:
                target.adapter.check_request(target.model_for(model), request)
            except InvalidRequestError as error:
                logger.warning("skipping %s: %s", target.label(model), error.message)
                refusals.append(error)
            else:
                able.append(target)
        if not able:
            raise refusals[0]
        return able

    # -- calls, asyncio: the source of the blocking twins below --------------------------

    # unasync: source failover.calls
    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """The reply of the first target that answers."""
        plan = self._able(await self._aplan(model), model, request)
        return await self._arun(model, plan, lambda t, m: t.adapter.achat(m, request))

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The stream of the first target whose first chunk arrives."""
        plan = self._able(self._plan(model), model, request)
        return self._astream(model, request, plan, self._aopen(plan, model, request))

    def _aopen(
        self, plan: list[Target], model: str, request: ChatRequest
    ) -> AsyncIterator[ChatChunk]:
        """The first target's stream; an error that fails over is raised when it is read."""
        try:
            return plan[0].adapter.astream(plan[0].model_for(model), request)
        except LLMError as error:
            if not fails_over(error):
                raise
            return failing_async_iterator(error)

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """The first target's embeddings (never failed over), with the caller's model."""
        return await self.targets[0].adapter.aembeddings(model, texts, options)

    async def aclose(self) -> None:
        """Close every target's adapter."""
        for adapter in self._adapters():
            await adapter.aclose()

    # unasync: end
    # unasync: generated failover.calls (do not edit: scripts/unasync.py writes it)
    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """The reply of the first target that answers."""
        plan = self._able(self._plan(model), model, request)
        return self._run(model, plan, lambda t, m: t.adapter.chat(m, request))

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """The stream of the first target whose first chunk arrives."""
        plan = self._able(self._plan(model), model, request)
        return self._stream(model, request, plan, self._open(plan, model, request))

    def _open(self, plan: list[Target], model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """The first target's stream; an error that fails over is raised when it is read."""
        try:
            return plan[0].adapter.stream(plan[0].model_for(model), request)
        except LLMError as error:
            if not fails_over(error):
                raise
            return failing_iterator(error)

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """The first target's embeddings (never failed over), with the caller's model."""
        return self.targets[0].adapter.embeddings(model, texts, options)

    def close(self) -> None:
        """Close every target's adapter."""
        for adapter in self._adapters():
            adapter.close()

    # unasync: end

    def _adapters(self) -> list[ProviderAdapter]:
        unique: list[ProviderAdapter] = []
        for target in self.targets:
            if all(target.adapter is not seen for seen in unique):
                unique.append(target.adapter)
        return unique

    # -- the failover loops, asyncio: the source of the blocking twins below -------------

    # unasync: source failover.loops
    async def _arun(
        self, model: str, plan: list[Target], call: Callable[[Target, str], Awaitable[T]]
    ) -> T:
        attempt = _Call(self, model, plan)
        for index, target in enumerate(plan):
            try:
                with deadline_scope(attempt.deadline, self.policy.clock):
                    result = await call(target, target.model_for(model))
            except LLMError as error:
                attempt.check(index, error)
                await self._afailed(target, model, error)
                attempt.failed(index, error)
                continue
            await self._asucceeded(target, model)
            return result
        raise AssertionError("unreachable: the last failure raises")  # pragma: no cover

    async def _astream(
        self,
        model: str,
        request: ChatRequest,
        plan: list[Target],
        first: AsyncIterator[ChatChunk],
    ) -> AsyncIterator[ChatChunk]:
        pending = [first]

        async def open_and_read(target: Target, target_model: str) -> list[ChatChunk]:
            iterator = pending.pop() if pending else target.adapter.astream(target_model, request)
            head = await afirst_visible(iterator)
            pending.append(iterator)
            return head

        head = await self._arun(model, plan, open_and_read)
        if not head:
            return
        iterator = pending[-1]
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
    # unasync: generated failover.loops (do not edit: scripts/unasync.py writes it)
    def _run(self, model: str, plan: list[Target], call: Callable[[Target, str], T]) -> T:
        attempt = _Call(self, model, plan)
        for index, target in enumerate(plan):
            try:
                with deadline_scope(attempt.deadline, self.policy.clock):
                    result = call(target, target.model_for(model))
            except LLMError as error:
                attempt.check(index, error)
                self._failed(target, model, error)
                attempt.failed(index, error)
                continue
            self._succeeded(target, model)
            return result
        raise AssertionError("unreachable: the last failure raises")  # pragma: no cover

    def _stream(
        self,
        model: str,
        request: ChatRequest,
        plan: list[Target],
        first: Iterator[ChatChunk],
    ) -> Iterator[ChatChunk]:
        pending = [first]

        def open_and_read(target: Target, target_model: str) -> list[ChatChunk]:
            iterator = pending.pop() if pending else target.adapter.stream(target_model, request)
            head = first_visible(iterator)
            pending.append(iterator)
            return head

        head = self._run(model, plan, open_and_read)
        if not head:
            return
        iterator = pending[-1]
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


class FallbackAdapter(FailoverAdapter):
    """``LLM_FALLBACKS``: the primary target first, then each fallback in the order given."""
