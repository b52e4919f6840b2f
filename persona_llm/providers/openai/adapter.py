"""The OpenAI adapter (``LLM_SERVICE=openai/<model>``), over the official ``openai`` SDK.

Chat goes through one of two transports with the same results: Chat Completions
(sent and read at the HTTP level through the SDK's client, the JSON mapped by `mapping` and
`stream` without the SDK's request transform and response models, see `raw`) or the Responses API
(``client.responses.create``, mapped by `responses_mapping` and `responses_stream`);
`responses_select.choose_api` picks one per request from ``OPENAI_API``. Embeddings go through
``client.embeddings.create`` (its raw-response twin when a rate-limited call wants the
reply's headers). `OPENAI_BASE_URL` points it at any OpenAI-compatible server
(always Chat Completions). The Azure adapter subclasses this one and only builds a different
client.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar

import openai

from persona_llm import log_redaction
from persona_llm.arguments import request_for
from persona_llm.errors import (
    APIConnectionError,
    ConfigurationError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    ProviderUnavailableError,
    sanitize_exception,
)
from persona_llm.providers._errors import error_from_status, where_and_why
from persona_llm.providers._raw import headers_wanted, note
from persona_llm.providers._timebox import SYNC_HOOKS, TimeBounds
from persona_llm.providers.base import PerLoop, ProviderAdapter, check_dimensions
from persona_llm.providers.openai import mapping as mapping
from persona_llm.providers.openai import raw
from persona_llm.providers.openai.parts import capabilities_for
from persona_llm.providers.openai.responses_transport import ResponsesTransport
from persona_llm.providers.openai.stream import OpenAIStreamState
from persona_llm.settings import OPENAI_COMPATIBLE, ProviderConfig
from persona_llm.types import (
    Capabilities,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Embeddings,
    Usage,
)

__all__ = ["OpenAIAdapter", "async_client", "client_options", "sync_client"]

# The SDK's own failures that mean "the reply was not what an OpenAI API sends".
_MALFORMED = (AttributeError, KeyError, TypeError, ValueError, openai.APIResponseValidationError)


def client_options(config: ProviderConfig) -> dict[str, Any]:
    """SDK client arguments shared by the OpenAI and Azure clients."""
    return {
        "api_key": config.api_key,
        # Separate limits: a dead host fails fast, a slow model gets the full read timeout.
        "timeout": openai.Timeout(config.read_timeout, connect=config.connect_timeout),
        # Retries are persona_llm.reliability's (LLM_MAX_RETRIES); the SDK must not multiply them.
        "max_retries": 0,
    }


def sync_client(config: ProviderConfig) -> openai.OpenAI:
    """The blocking SDK client (the container closes it on reset)."""
    # base_url None: the SDK's default (or its own OPENAI_BASE_URL lookup).
    http_client = openai.DefaultHttpxClient(event_hooks=SYNC_HOOKS)  # see _timebox
    return openai.OpenAI(
        base_url=config.base_url, http_client=http_client, **client_options(config)
    )


def async_client(config: ProviderConfig) -> openai.AsyncOpenAI:
    """A new asyncio SDK client (the adapter keeps one per event loop)."""
    return openai.AsyncOpenAI(base_url=config.base_url, **client_options(config))


def _parameter_names(method: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(method).parameters)


class OpenAIAdapter(ResponsesTransport, ProviderAdapter):
    """Chat and embeddings over the OpenAI API.

    Args:
        config: the provider's settings (the key is used for redaction too).
        client: the blocking SDK client.
        async_client_factory: builds an asyncio SDK client; one is kept per event loop.
        unsupported_params: what to do with a parameter the model rejects (a non-default
            temperature on a reasoning model; default: ``config.unsupported_params``, i.e.
            ``LLM_UNSUPPORTED_PARAMS``): ``"error"`` raises `InvalidRequestError` before
            the call, ``"drop"`` leaves it out and logs a WARNING. A call can override it with
            the option ``unsupported_params=...``.
        embedding_batch_size: most texts per embeddings request (OpenAI's limit is 2048).
    """

    name: str = "openai"
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
        client: openai.OpenAI,
        async_client_factory: Callable[[], openai.AsyncOpenAI],
        *,
        unsupported_params: mapping.UnsupportedParams | None = None,
        embedding_batch_size: int = mapping.EMBEDDING_BATCH_LIMIT,
    ) -> None:
        if unsupported_params is None:
            unsupported_params = config.unsupported_params
        if unsupported_params not in ("error", "drop"):
            raise ConfigurationError(
                f"unsupported_params must be 'error' or 'drop' (LLM_UNSUPPORTED_PARAMS), "
                f"got {unsupported_params!r}"
            )
        if not 1 <= embedding_batch_size <= mapping.EMBEDDING_BATCH_LIMIT:
            raise ValueError(
                f"embedding_batch_size must be 1..{mapping.EMBEDDING_BATCH_LIMIT}, "
                f"got {embedding_batch_size}"
            )
        self.config = config
        log_redaction.install_for_provider(config.secrets)
        if config.name in OPENAI_COMPATIBLE:  # report "ollama", "groq", ... not "openai"
            self.name = config.name
        self.unsupported_params = unsupported_params
        self.embedding_batch_size = embedding_batch_size
        self._client = client
        self._async = PerLoop(async_client_factory)
        self._bounds = TimeBounds(config, self.name)
        self._api_setting = config.api
        if config.name == "azure" and config.api_version != "v1" and config.api == "auto":
            self._api_setting = "chat"  # dated Azure versions: Responses only when asked for
        self._compatible = config.name in OPENAI_COMPATIBLE

    @functools.cached_property
    def _chat_params(self) -> frozenset[str]:
        # Options the SDK methods do not take go into the body (extra_body) instead of
        # failing with a TypeError: OpenAI-compatible servers have parameters of their own.
        # On first use: `client.chat` imports the SDK's chat resources and streaming models
        # (a cold process's first reply goes through client.post and does not need them).
        return _parameter_names(self._client.chat.completions.create)

    @functools.cached_property
    def _embedding_params(self) -> frozenset[str]:
        # On first use: the SDK imports its embeddings resource then (2 ms a chat app skips).
        return _parameter_names(self._client.embeddings.create)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def capabilities_for(self, model: str) -> Capabilities:
        """Narrowed by model and server: text-only models, compatible servers (no files)."""
        return capabilities_for(self.capabilities, self.name, model)

    def check_request(self, model: str, request: ChatRequest) -> None:
        """Refuse parts `model` cannot take, without sending."""
        mapping.check_openai_parts(request.messages, self.name, model)

    # -- chat ---------------------------------------------------------------------------

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Send one chat request (Chat Completions or Responses) and return the reply."""
        request = request_for(request, self.name)
        if self.api_for(model, request) == "responses":
            return self._respond(model, request)
        params = self._chat_kwargs(model, request)
        with self._map_errors(model), self._bounds.request(model):
            body = raw.completion_body(raw.post_chat(self._client, params))
            return mapping.from_openai_completion(body, provider=self.name, model=model)

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`."""
        request = request_for(request, self.name)
        if self.api_for(model, request) == "responses":
            return await self._arespond(model, request)
        params = self._chat_kwargs(model, request)
        with self._map_errors(model), self._bounds.arequest(model):
            body = raw.completion_body(await raw.apost_chat(self._async.get(), params))
            return mapping.from_openai_completion(body, provider=self.name, model=model)

    def _chat_kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        return mapping.to_openai_params(
            model,
            request,
            unsupported_params=self.unsupported_params,
            # Only options are sorted by it: a call with none skips the SDK's chat resources.
            known_params=self._chat_params if request.options or request.reasoning else None,
            provider=self.name,
        )

    # -- streaming ----------------------------------------------------------------------

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream the reply: text (and refusal) chunks, then one chunk with `finish_reason`,
        `usage` and the assembled `tool_calls`.

        The request is checked now; it is sent when iteration starts. Closing the iterator
        early closes the HTTP response. A stream that ends without a finish reason raises
        `ProviderUnavailableError` after the chunks already yielded.
        """
        request = request_for(request, self.name)
        if self.api_for(model, request) == "responses":
            return self._response_events(model, request)
        return self._stream(model, self._stream_kwargs(model, request))

    def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream` (an async generator; close it with ``aclose()``)."""
        request = request_for(request, self.name)
        if self.api_for(model, request) == "responses":
            return self._aresponse_events(model, request)
        return self._astream(model, self._stream_kwargs(model, request))

    def _stream_kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        # include_usage adds a last chunk with the usage; the caller's options still win.
        return {
            "stream_options": {"include_usage": True},
            **self._chat_kwargs(model, request),
            "stream": True,
        }

    def _stream(self, model: str, params: dict[str, Any]) -> Iterator[ChatChunk]:
        state = OpenAIStreamState(self.name, model)
        timer = self._bounds.stream(model)
        with self._map_errors(model):
            create = self._client.chat.completions.with_streaming_response.create
            with timer.opened(create(**params)) as response:
                for event in timer.events(raw.chunk_events(response.http_response)):
                    if chunk := state.feed(event):
                        yield chunk
        yield state.final_chunk()

    async def _astream(self, model: str, params: dict[str, Any]) -> AsyncIterator[ChatChunk]:
        state = OpenAIStreamState(self.name, model)
        timer = self._bounds.astream(model)
        with self._map_errors(model):
            create = self._async.get().chat.completions.with_streaming_response.create
            async with timer.opened(create(**params)) as response:
                async for event in timer.events(raw.achunk_events(response.http_response)):
                    if chunk := state.feed(event):
                        yield chunk
        yield state.final_chunk()

    # -- embeddings ---------------------------------------------------------------------

    def embeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """One vector per text, in input order, in requests of `embedding_batch_size` texts."""
        result = Embeddings(usage=Usage())
        for batch in self._batches(texts):
            params = self._embedding_kwargs(model, batch, options)
            with self._map_errors(model), self._bounds.request(model):
                embeddings = self._client.embeddings
                if headers_wanted():  # a limited call: the reply's rate-limit headers too
                    reply = embeddings.with_raw_response.create(**params)
                    note(reply.headers)
                    response = reply.parse()
                else:
                    response = embeddings.create(**params)
                self._add_batch(result, response, params, model)
        return result

    async def aembeddings(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> list[list[float]]:
        """Asyncio twin of `embeddings` (batches are sent one after another)."""
        result = Embeddings(usage=Usage())
        for batch in self._batches(texts):
            params = self._embedding_kwargs(model, batch, options)
            with self._map_errors(model), self._bounds.arequest(model):
                embeddings = self._async.get().embeddings
                if headers_wanted():  # a limited call: the reply's rate-limit headers too
                    reply = await embeddings.with_raw_response.create(**params)
                    note(reply.headers)
                    response = reply.parse()
                else:
                    response = await embeddings.create(**params)
                self._add_batch(result, response, params, model)
        return result

    def _add_batch(
        self, result: Embeddings, response: Any, params: dict[str, Any], model: str
    ) -> None:
        expected = len(params["input"])
        vectors = mapping.vectors_from_openai(response, expected, provider=self.name, model=model)
        check_dimensions(vectors, params.get("dimensions"), provider=self.name, model=model)
        result += vectors
        result.usage = mapping.add_embedding_usage(result.usage, response)

    def _batches(self, texts: Sequence[str]) -> Iterator[Sequence[str]]:
        size = self.embedding_batch_size
        for start in range(0, len(texts), size):
            yield texts[start : start + size]

    def _embedding_kwargs(
        self, model: str, texts: Sequence[str], options: dict[str, Any]
    ) -> dict[str, Any]:
        dimensions = None if "dimensions" in options else self.config.embedding_dimensions
        return mapping.embedding_params(
            model, texts, options, dimensions=dimensions, known_params=self._embedding_params
        )

    # -- lifecycle and errors -----------------------------------------------------------

    def close(self) -> None:
        """Close the asyncio clients of loops still open; the container closes the blocking one."""
        for loop, client in self._async.items():
            if loop.is_closed():
                continue
            with contextlib.suppress(Exception):
                if loop.is_running():
                    # Maybe this very loop, or another thread's: schedule, do not block.
                    asyncio.run_coroutine_threadsafe(client.close(), loop)
                else:
                    loop.run_until_complete(client.close())
        self._async.clear()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client (call before the loop ends, e.g. at shutdown).

        Without it, a client whose loop has ended can only be dropped, not closed, and its
        connections are left to the garbage collector.
        """
        client = self._async.pop()
        if client is not None:
            await client.close()

    @contextlib.contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """Translate SDK exceptions into `LLMError`s, chained and with the key scrubbed."""
        secrets = self.config.secrets
        where: dict[str, Any] = {"provider": self.name, "model": model, "secrets": secrets}
        try:
            yield
        except LLMError:
            raise
        except openai.APITimeoutError as exc:
            raise LLMTimeoutError(
                f"no reply within {self.config.timeout:g} s (LLM_TIMEOUT)", **where
            ) from sanitize_exception(exc, secrets)
        except openai.APIConnectionError as exc:
            raise APIConnectionError(
                f"could not reach {self.name} at {where_and_why(exc)}",
                **where,
            ) from sanitize_exception(exc, secrets)
        except openai.APIStatusError as exc:
            raise self._status_error(exc, model) from sanitize_exception(exc, secrets)
        except UnicodeEncodeError as exc:  # building the request, never reading a reply
            raise InvalidRequestError(
                f"the request cannot be encoded as UTF-8: {exc.reason}", **where
            ) from sanitize_exception(exc, secrets)
        except _MALFORMED as exc:
            raise ProviderUnavailableError(
                f"malformed reply from {self.name}: {type(exc).__name__}: {exc}", **where
            ) from sanitize_exception(exc, secrets)
        except openai.APIError as exc:
            # An error event inside a stream: no HTTP status, the code says what it was.
            message, code = mapping.error_details(exc.body)
            raise error_from_status(
                None, message or exc.message, code=code, **where
            ) from sanitize_exception(exc, secrets)
        except openai.OpenAIError as exc:
            raise ProviderUnavailableError(
                f"{self.name} SDK error: {type(exc).__name__}: {exc}", **where
            ) from sanitize_exception(exc, secrets)

    def _status_error(self, exc: openai.APIStatusError, model: str) -> LLMError:
        message, code = mapping.error_details(exc.body)
        return error_from_status(
            exc.status_code,
            message or exc.message,
            provider=self.name,
            model=model,
            code=code,
            headers=exc.response.headers,
            secrets=self.config.secrets,
        )
