"""The Responses API half of the OpenAI adapter: which transport a request takes, and the
thin I/O: replies through ``client.post("/responses")`` read as JSON (`raw`), streams through
``client.responses.create(stream=True)``.

Mixed into `persona_llm.providers.openai.adapter.OpenAIAdapter`, which provides the SDK
clients, the error translation and the settings; the conversion is pure
(`responses_mapping`, `responses_stream`), the choice is `responses_select.choose_api`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import openai

from persona_llm.providers._timebox import TimeBounds
from persona_llm.providers.base import PerLoop
from persona_llm.providers.openai import raw
from persona_llm.providers.openai.request import UnsupportedParams
from persona_llm.providers.openai.responses_select import Api, choose_api
from persona_llm.types import ChatChunk, ChatRequest, ChatResponse

__all__ = ["ResponsesTransport"]


class ResponsesTransport:
    """Chat over ``/v1/responses``, for a class that has the attributes declared here."""

    name: str
    unsupported_params: UnsupportedParams
    _client: openai.OpenAI
    _async: PerLoop[openai.AsyncOpenAI]
    _api_setting: str
    _compatible: bool
    _map_errors: Callable[[str], AbstractContextManager[None]]
    _bounds: TimeBounds

    def api_for(self, model: str, request: ChatRequest) -> Api:
        """The transport this request takes (``chat`` or ``responses``; see `choose_api`)."""
        return choose_api(self._api_setting, model, request, compatible=self._compatible)

    @functools.cached_property
    def _responses_params(self) -> frozenset[str]:
        # On first use: the SDK imports its responses resource then.
        return frozenset(inspect.signature(self._client.responses.create).parameters)

    def _responses_kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        from persona_llm.providers.openai import responses_mapping as responses

        return responses.to_responses_params(
            model,
            request,
            unsupported_params=self.unsupported_params,
            known_params=self._responses_params,
            provider=self.name,
        )

    def _respond(self, model: str, request: ChatRequest) -> ChatResponse:
        params = self._responses_kwargs(model, request)
        with self._map_errors(model), self._bounds.request(model):
            reply = raw.responses_body(raw.post_responses(self._client, params))
            return _from_responses(reply, self.name, model)

    async def _arespond(self, model: str, request: ChatRequest) -> ChatResponse:
        params = self._responses_kwargs(model, request)
        with self._map_errors(model), self._bounds.arequest(model):
            response = await raw.apost_responses(self._async.get(), params)
            return _from_responses(raw.responses_body(response), self.name, model)

    def _response_events(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """The checked request's stream (sent when iteration starts), as `ChatChunk`s."""
        return self._events(model, self._responses_kwargs(model, request))

    def _aresponse_events(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `_response_events`."""
        return self._aevents(model, self._responses_kwargs(model, request))

    def _events(self, model: str, params: dict[str, Any]) -> Iterator[ChatChunk]:
        state = _stream_state(self.name, model)
        timer = self._bounds.stream(model)
        with self._map_errors(model):
            create = self._client.responses.with_streaming_response.create
            with timer.opened(create(**params, stream=True)) as response:
                for event in timer.events(raw.chunk_events(response.http_response)):
                    if chunk := state.feed(event):
                        yield chunk
        yield state.final_chunk()

    async def _aevents(self, model: str, params: dict[str, Any]) -> AsyncIterator[ChatChunk]:
        state = _stream_state(self.name, model)
        timer = self._bounds.astream(model)
        with self._map_errors(model):
            create = self._async.get().responses.with_streaming_response.create
            async with timer.opened(create(**params, stream=True)) as response:
                async for event in timer.events(raw.achunk_events(response.http_response)):
                    if chunk := state.feed(event):
                        yield chunk
        yield state.final_chunk()


# The Responses mapping is imported on the first Responses call: a Chat Completions app (the
# default) does not pay for it at its first call.


def _from_responses(reply: Any, provider: str, model: str) -> ChatResponse:
    from persona_llm.providers.openai import responses_mapping

    return responses_mapping.from_responses(reply, provider=provider, model=model)


def _stream_state(provider: str, model: str) -> Any:
    from persona_llm.providers.openai.responses_stream import ResponsesStreamState

    return ResponsesStreamState(provider, model)
