"""The Gemini adapter: the google-genai SDK against the Gemini Developer API or Vertex AI.

On Vertex AI (`ProviderConfig.vertex`, see `persona_llm.providers.gemini.vertex`) the client
has ``vertexai=True``, a project, a location and Google credentials instead of a key; the
wire format, the mapping and the errors are the same, and replies report provider
``gemini`` (the same model family, and the same thought signatures on the next turn).

The SDK clients are built by `persona_llm.providers.gemini.client` (`sync_client`,
`async_client`, re-exported here for the container).

Every SDK call runs inside `GeminiAdapter._map_errors`, which turns SDK, httpx2 and parse
errors into the `LLMError` hierarchy, chained and with the key scrubbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar

import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.genai.client import AsyncClient
from google.genai.errors import UnknownApiResponseError

from persona_llm import log_redaction
from persona_llm.arguments import request_for
from persona_llm.errors import (
    APIConnectionError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    ProviderUnavailableError,
    redact,
    sanitize_exception,
)
from persona_llm.providers._errors import error_from_status
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers._timebox import TimeBounds
from persona_llm.providers.base import PerLoop, ProviderAdapter, check_dimensions
from persona_llm.providers.gemini.client import DEFAULT_API_VERSION, async_client, sync_client
from persona_llm.providers.gemini.mapping import (
    EMBED_BATCH_LIMIT,
    embedding_batches,
    from_gemini_embeddings,
    from_gemini_response,
    gemini_error_fields,
    to_gemini_embed_config,
    to_gemini_request,
)
from persona_llm.providers.gemini.parts import PART_RULES
from persona_llm.providers.gemini.stream import (
    GeminiStreamState,
    next_event,
)
from persona_llm.providers.gemini.vertex import is_google_auth_error, vertex_access_error
from persona_llm.settings import ProviderConfig
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = ["DEFAULT_API_VERSION", "GeminiAdapter", "async_client", "sync_client"]

# Raised while reading a reply (the SDK's JSON and pydantic parsing, or a reply missing what
# we read from it): a malformed reply. Other ValueErrors are the SDK refusing a request.
_PARSE_ERRORS = (json.JSONDecodeError, pydantic.ValidationError, UnknownApiResponseError)
_MALFORMED = (*_PARSE_ERRORS, AttributeError, KeyError, TypeError)


# What `_prepare` passes as `contents`: one `Content`, or the mapping's dicts.
_Contents = types.Content | list[dict[str, Any]]


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` (a parsed error body) with every secret removed from its strings."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


def _transport_error(exc: BaseException) -> type[LLMError] | None:
    """Our class for an HTTP-library error, or None when `exc` is not one."""
    # httpx2 is the SDK's default; httpx and aiohttp are used when installed and chosen.
    libraries = [httpx2, sys.modules.get("httpx")]
    for library in libraries:
        if library is not None and isinstance(exc, library.TimeoutException):
            return LLMTimeoutError
        if library is not None and isinstance(exc, library.TransportError):
            return APIConnectionError
    if isinstance(exc, TimeoutError):
        return LLMTimeoutError
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return APIConnectionError
    return None


class GeminiAdapter(ProviderAdapter):
    """Chat and embeddings over google-genai.

    Args:
        config: the provider's settings.
        client: the blocking ``genai.Client``.
        async_client_factory: builds a new ``AsyncClient``; one is kept per event loop.
        embed_batch_size: texts per embedding request (1 to 100, the API's limit).
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
        contents, settings = self._prepare(model, request)
        with self._map_errors(model), self._bounds.request(model):
            reply = self._client.models.generate_content(
                model=model, contents=contents, config=settings
            )
            return from_gemini_response(reply, model)

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`, on this event loop's own client."""
        contents, settings = self._prepare(model, request)
        with self._map_errors(model), self._bounds.arequest(model):
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
        contents, settings = self._prepare(model, request)
        return self._stream(model, contents, settings)

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream`, on this event loop's own client."""
        contents, settings = self._prepare(model, request)
        return self._astream(model, contents, settings)

    def _stream(
        self, model: str, contents: _Contents, settings: types.GenerateContentConfig
    ) -> Iterator[ChatChunk]:
        state = GeminiStreamState(model)
        timer = self._bounds.stream(model)
        with self._map_errors(model):
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
        with self._map_errors(model):
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
            with self._map_errors(model), self._bounds.request(model):
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
            with self._map_errors(model), self._bounds.arequest(model):
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

    def _prepare(
        self, model: str, request: ChatRequest
    ) -> tuple[_Contents, types.GenerateContentConfig]:
        try:
            contents, settings = to_gemini_request(
                request_for(request, *self._sections), model, self.unsupported_params
            )
        except InvalidRequestError as exc:  # e.g. a tool result without a tool name
            exc.model = model
            raise
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
            raise self._invalid_options(exc, model) from exc

    def _embed_config(self, model: str, options: dict[str, Any]) -> types.EmbedContentConfig:
        settings = to_gemini_embed_config(options, self.config.embedding_dimensions)
        try:
            return types.EmbedContentConfig(**settings)
        except pydantic.ValidationError as exc:
            raise self._invalid_options(exc, model) from exc

    def _invalid_options(self, exc: pydantic.ValidationError, model: str) -> InvalidRequestError:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'options'}: {error['msg']}"
            for error in exc.errors()
        )
        return InvalidRequestError(
            f"invalid Gemini options ({problems}); options are keyword arguments of "
            "google.genai.types.GenerateContentConfig / EmbedContentConfig",
            provider=self.name,
            model=model,
            secrets=self._secrets,
        )

    @contextlib.contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """Translate what an SDK call raises into our errors, chained and scrubbed."""
        try:
            yield
        except LLMError:
            raise
        except genai_errors.APIError as exc:
            error = self._status_error(exc, model)
            sanitize_exception(exc, self._secrets)
            exc.details = _scrub(exc.details, self._secrets)
            raise error from exc
        except Exception as exc:
            raise self._other_error(exc, model) from sanitize_exception(exc, self._secrets)

    def _status_error(self, exc: genai_errors.APIError, model: str) -> LLMError:
        message, code, headers = gemini_error_fields(
            exc.details,
            exc.status,
            str(exc.message or exc),
            getattr(getattr(exc, "response", None), "headers", None),
        )
        if self.config.vertex and exc.code in (401, 403):
            return vertex_access_error(exc.code, message, self.config, model)
        return error_from_status(
            exc.code,
            message,
            provider=self.name,
            model=model,
            code=code,
            headers=headers,
            secrets=self._secrets,
        )

    def _other_error(self, exc: Exception, model: str) -> LLMError:
        where: dict[str, Any] = {"provider": self.name, "model": model, "secrets": self._secrets}
        if self.config.vertex and is_google_auth_error(exc):
            return vertex_access_error(None, f"{type(exc).__name__}: {exc}", self.config, model)
        kind = _transport_error(exc)
        if kind is not None:
            what = (
                f"no reply within {self.config.timeout:g}s"
                if kind is LLMTimeoutError
                else f"connection to {self.config.base_url or 'the Gemini API'} failed or dropped"
            )
            return kind(f"{what}: {type(exc).__name__}: {exc}", **where)
        if isinstance(exc, _MALFORMED):
            return ProviderUnavailableError(
                f"malformed reply from gemini: {type(exc).__name__}: {exc}", **where
            )
        if isinstance(exc, ValueError):  # the SDK checks some options only while sending
            return InvalidRequestError(f"the google-genai SDK rejected the request: {exc}", **where)
        return LLMError(f"unexpected error from the google-genai SDK: {exc!r}", **where)


def _embed_contents(texts: Sequence[str]) -> list[types.Content]:
    # One Content per text: a list of plain strings would be merged into one content (one
    # vector) for the SDK's multimodal embedding models.
    return [types.Content(parts=[types.Part(text=text)]) for text in texts]
