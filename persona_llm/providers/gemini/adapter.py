"""The Gemini adapter: the google-genai SDK against the Gemini Developer API or Vertex AI.

On Vertex AI (`ProviderConfig.vertex`, see `persona_llm.providers.gemini.vertex`) the client
has ``vertexai=True``, a project, a location and Google credentials instead of a key; the
wire format, the mapping and the errors are the same, and replies report provider
``gemini`` (the same model family, and the same thought signatures on the next turn).

The SDK clients are built by `persona_llm.providers.gemini.client` (`sync_client`,
`async_client`, re-exported here for the container).

A chat call goes out on the wire path (`persona_llm.providers.gemini.wire`: the JSON body sent
with the SDK's own transport, the reply mapped from its JSON) unless it carries SDK options or
the installed google-genai is not one the wire path was tested with; then, and for streams and
embeddings, the SDK's public methods are called.

Every SDK call runs inside `persona_llm.providers.gemini.errors.GeminiErrors`, which turns
SDK, httpx2 and parse errors into the `LLMError` hierarchy, chained and with the key scrubbed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar

import httpx2
import pydantic
from google import genai
from google.genai import types
from google.genai.client import AsyncClient

from persona_llm import log_redaction
from persona_llm.arguments import request_for
from persona_llm.errors import InvalidRequestError, ProviderUnavailableError
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers._timebox import TimeBounds
from persona_llm.providers.base import PerLoop, ProviderAdapter, check_dimensions
from persona_llm.providers.gemini import wire as _wire
from persona_llm.providers.gemini.client import DEFAULT_API_VERSION, async_client, sync_client
from persona_llm.providers.gemini.errors import GeminiErrors
from persona_llm.providers.gemini.mapping import (
    EMBED_BATCH_LIMIT,
    embedding_batches,
    from_gemini_embeddings,
    from_gemini_response,
    to_gemini_embed_config,
)
from persona_llm.providers.gemini.parts import PART_RULES
from persona_llm.providers.gemini.request import GeminiRequest, gemini_request
from persona_llm.providers.gemini.stream import GeminiStreamState, next_event
from persona_llm.settings import ProviderConfig
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = ["DEFAULT_API_VERSION", "GeminiAdapter", "async_client", "sync_client"]

# What `_sdk_arguments` passes as `contents`: one `Content`, or the mapping's dicts.
_Contents = types.Content | list[dict[str, Any]]


class GeminiAdapter(ProviderAdapter):
    """Chat and embeddings over google-genai.

    Args:
        config: the provider's settings.
        client: the blocking ``genai.Client``.
        async_client_factory: builds a new ``AsyncClient``; one is kept per event loop.
        embed_batch_size: texts per embedding request (1 to 100, the API's limit).
        wire: send chat requests on the wire path when the SDK supports it (False: always
            the SDK's public ``generate_content``; both give the same results).
    """

    name: str = "gemini"
    capabilities: ClassVar[Capabilities] = Capabilities(
        chat=True,
        embeddings=True,
        json_mode=True,
        streaming=True,
        tools=True,
        vision=True,
        documents=True,
        audio_input=True,
        reasoning=True,
    )

    def __init__(
        self,
        config: ProviderConfig,
        client: genai.Client,
        async_client_factory: Callable[[], AsyncClient],
        *,
        embed_batch_size: int = EMBED_BATCH_LIMIT,
        unsupported_params: str | None = None,
        wire: bool = True,
    ) -> None:
        # A reasoning level the model cannot honour: LLM_UNSUPPORTED_PARAMS unless given.
        self.unsupported_params = unsupported_params or config.unsupported_params
        if not 1 <= embed_batch_size <= EMBED_BATCH_LIMIT:
            raise ValueError(f"embed_batch_size must be 1..{EMBED_BATCH_LIMIT}")
        self.config = config
        # provider_options sections this adapter answers to: Vertex AI takes "gemini" and "vertex"
        self._sections = ("gemini", "vertex") if config.vertex else ("gemini",)
        self.embed_batch_size = embed_batch_size
        self._client = client
        self._async = PerLoop(async_client_factory)
        self._secrets = config.secrets
        self._errors = GeminiErrors(config)
        self.wire = wire and _wire.supported(client)
        log_redaction.install_for_provider(config.secrets)
        self._bounds = TimeBounds(config, self.name)

    def __repr__(self) -> str:
        return f"GeminiAdapter(base_url={self.config.base_url!r})"

    def check_request(self, model: str, request: ChatRequest) -> None:
        """Refuse parts Gemini cannot take (media in tool results, oversized inline data)."""
        if has_parts(request.messages):
            check_parts(request.messages, PART_RULES, model)

    # -- chat -----------------------------------------------------------------------------

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Send one ``generateContent`` request and normalize the reply."""
        prepared = self._request(model, request)
        body = self._wire_body(prepared)
        if body is not None:
            with self._errors.on(model), self._bounds.request(model):
                return from_gemini_response(_wire.generate(self._client, model, body), model)
        contents, settings = self._sdk_arguments(model, prepared)
        with self._errors.on(model), self._bounds.request(model):
            reply = self._client.models.generate_content(
                model=model, contents=contents, config=settings
            )
            return from_gemini_response(reply, model)

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`, on this event loop's own client."""
        prepared = self._request(model, request)
        body = self._wire_body(prepared)
        if body is not None:
            with self._errors.on(model), self._bounds.arequest(model):
                reply = await _wire.agenerate(self._async.get(), model, body)
                return from_gemini_response(reply, model)
        contents, settings = self._sdk_arguments(model, prepared)
        with self._errors.on(model), self._bounds.arequest(model):
            reply = await self._async.get().models.generate_content(
                model=model, contents=contents, config=settings
            )
            return from_gemini_response(reply, model)

    # -- streaming ------------------------------------------------------------------------

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream the reply (``streamGenerateContent?alt=sse``) as chunks.

        Options are checked now; the request is sent when iteration starts. Closing the
        iterator early closes the HTTP response.
        """
        contents, settings = self._sdk_arguments(model, self._request(model, request))
        return self._stream(model, contents, settings)

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream`, on this event loop's own client."""
        contents, settings = self._sdk_arguments(model, self._request(model, request))
        return self._astream(model, contents, settings)

    def _stream(
        self, model: str, contents: _Contents, settings: types.GenerateContentConfig
    ) -> Iterator[ChatChunk]:
        state = GeminiStreamState(model)
        timer = self._bounds.stream(model)
        with self._errors.on(model):
            events = self._client.models.generate_content_stream(
                model=model, contents=contents, config=settings
            )
            try:
                for event in timer.events(events):
                    yield state.feed(event)
            finally:  # closing the SDK's generator chain closes the httpx2 response under it
                getattr(events, "close", lambda: None)()
        if not state.finished:
            raise self._ended_early(model)

    async def _astream(
        self, model: str, contents: _Contents, settings: types.GenerateContentConfig
    ) -> AsyncIterator[ChatChunk]:
        state = GeminiStreamState(model)
        opened: list[httpx2.Response] = []
        timer = self._bounds.astream(model)
        with self._errors.on(model):
            events = await timer.send(
                self._async.get().models.generate_content_stream(
                    model=model, contents=contents, config=settings
                )
            )
            timed = timer.events(events)
            try:
                while (event := await next_event(timed, opened)) is not None:
                    yield state.feed(event)
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
                for response in opened:  # see _gemini_stream._OPENED_RESPONSES
                    await response.aclose()
        if not state.finished:
            raise self._ended_early(model)

    def _ended_early(self, model: str) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            "stream ended early: the connection closed before Gemini sent a finishReason",
            provider=self.name,
            model=model,
        )

    # -- embeddings -----------------------------------------------------------------------

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """One vector per text via ``batchEmbedContents``, `embed_batch_size` texts a call."""
        settings = self._embed_config(model, options)
        vectors: list[list[float]] = []
        for batch in embedding_batches(texts, self.embed_batch_size):
            with self._errors.on(model), self._bounds.request(model):
                reply = self._client.models.embed_content(
                    model=model, contents=_embed_contents(batch), config=settings
                )
                vectors.extend(from_gemini_embeddings(reply, len(batch), model))
        check_dimensions(vectors, settings.output_dimensionality, provider=self.name, model=model)
        return vectors

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Asyncio twin of `embeddings` (batches are sent one after another)."""
        settings = self._embed_config(model, options)
        vectors: list[list[float]] = []
        for batch in embedding_batches(texts, self.embed_batch_size):
            with self._errors.on(model), self._bounds.arequest(model):
                reply = await self._async.get().models.embed_content(
                    model=model, contents=_embed_contents(batch), config=settings
                )
                vectors.extend(from_gemini_embeddings(reply, len(batch), model))
        check_dimensions(vectors, settings.output_dimensionality, provider=self.name, model=model)
        return vectors

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the asyncio clients of open loops (in a running loop, `aclose` waits for it)."""
        for loop, client in self._async.items():
            if loop.is_closed():
                continue
            with contextlib.suppress(RuntimeError):  # the loop closed or started meanwhile
                if loop.is_running():  # this thread's loop or another's: schedule, never block
                    asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                else:
                    loop.run_until_complete(client.aclose())
        self._async.clear()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client and wait for it, then the others."""
        client = self._async.pop()
        if client is not None:
            await client.aclose()
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _request(self, model: str, request: ChatRequest) -> GeminiRequest:
        try:
            return gemini_request(
                request_for(request, *self._sections), model, self.unsupported_params
            )
        except InvalidRequestError as exc:  # e.g. a tool result without a tool name
            exc.model = model
            raise

    def _wire_body(self, prepared: GeminiRequest) -> dict[str, Any] | None:
        """The JSON body to send on the wire path, or None for the SDK's public path."""
        if not self.wire or prepared.sdk_options:
            return None
        return _wire.wire_body(prepared.contents, prepared.config, self.config.vertex)

    def _sdk_arguments(
        self, model: str, prepared: GeminiRequest
    ) -> tuple[_Contents, types.GenerateContentConfig]:
        contents, settings = prepared.contents, prepared.config
        try:
            # The shape is chosen for speed: google-genai validates `contents` against a wide
            # union, where one `Content` is its fastest shape and a list of `Content`
            # objects its slowest (benchmarks/diagnose_gemini.py); a list of plain dicts is
            # fast too, and the SDK checks it as it would the objects. The mapping builds
            # well-formed dicts: the contract tests send every part kind through the SDK.
            sent: _Contents = (
                types.Content.model_validate(contents[0]) if len(contents) == 1 else contents
            )
            return sent, types.GenerateContentConfig(**settings)
        except pydantic.ValidationError as exc:
            raise self._errors.invalid_options(exc, model) from exc

    def _embed_config(self, model: str, options: dict[str, Any]) -> types.EmbedContentConfig:
        settings = to_gemini_embed_config(options, self.config.embedding_dimensions)
        try:
            return types.EmbedContentConfig(**settings)
        except pydantic.ValidationError as exc:
            raise self._errors.invalid_options(exc, model) from exc


def _embed_contents(texts: Sequence[str]) -> list[types.Content]:
    # One Content per text: a list of plain strings would be merged into one content (one
    # vector) for the SDK's multimodal embedding models.
    return [types.Content(parts=[types.Part(text=text)]) for text in texts]
