"""The Anthropic adapter: Claude through the official ``anthropic`` SDK's Messages API.

Mapping rules (system prompt, turn merging, ``max_tokens`` defaults, JSON mode through a
forced ``json_output`` tool) are documented in `persona_llm.providers.anthropic.mapping`.
Anthropic has no embeddings API; ``capabilities.embeddings`` is False and the embedding
client falls back to another provider (DESIGN.md §3).

The key travels in the ``x-api-key`` header, Anthropic's documented scheme that every
gateway in front of it understands (SDK 2.x would otherwise send ``Authorization:
Bearer``); it never appears in a URL or in an error message.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, NoReturn, cast

import anthropic
import httpx2
from anthropic.resources.messages import Messages

from persona_llm import log_redaction
from persona_llm.arguments import request_for
from persona_llm.errors import (
    APIConnectionError,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    ProviderUnavailableError,
    sanitize_exception,
)
from persona_llm.providers._errors import error_from_status
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers._timebox import SYNC_HOOKS, TimeBounds
from persona_llm.providers.anthropic import raw
from persona_llm.providers.anthropic.mapping import (
    ERROR_TYPE_STATUS,
    PROVIDER,
    from_anthropic_message,
    to_anthropic_params,
    to_sdk_kwargs,
)
from persona_llm.providers.anthropic.parts import PART_RULES
from persona_llm.providers.anthropic.stream import StreamState
from persona_llm.providers.base import PerLoop, ProviderAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.types import Capabilities, ChatChunk, ChatRequest, ChatResponse

__all__ = ["AnthropicAdapter", "async_client", "sync_client"]

# Keywords of messages.create; any other field goes to the API through extra_body.
_SDK_PARAMETERS = frozenset(inspect.signature(Messages.create).parameters) - {"self"}

# Failures to read a reply: the SDK builds models without validating, so a body that is not
# a Messages reply shows up as a missing attribute or a wrong type in the mapping.
_MALFORMED = (
    anthropic.APIResponseValidationError,
    AttributeError,
    KeyError,
    TypeError,
    ValueError,
)


def _client_options(config: ProviderConfig) -> dict[str, Any]:
    headers = {"x-api-key": config.api_key or "", "Authorization": anthropic.omit}
    return {
        "api_key": config.api_key,
        "base_url": config.base_url or None,
        "timeout": anthropic.Timeout(config.read_timeout, connect=config.connect_timeout),
        "max_retries": 0,  # retries are persona_llm.reliability's, not the SDK's
        # An explicit key with the Bearer header omitted: only x-api-key carries it.
        "default_headers": cast("dict[str, str]", headers),
    }


def sync_client(config: ProviderConfig) -> anthropic.Anthropic:
    """The blocking SDK client for `config` (the container owns and closes it)."""
    http_client = anthropic.DefaultHttpxClient(event_hooks=SYNC_HOOKS)  # see _timebox
    return anthropic.Anthropic(http_client=http_client, **_client_options(config))


def async_client(config: ProviderConfig) -> anthropic.AsyncAnthropic:
    """A new asyncio SDK client for `config` (one per event loop, see `PerLoop`)."""
    return anthropic.AsyncAnthropic(**_client_options(config))


class AnthropicAdapter(ProviderAdapter):
    """Chat, streaming and tool calling over Anthropic's Messages API; no embeddings."""

    name: str = PROVIDER
    capabilities: ClassVar[Capabilities] = Capabilities(
        chat=True,
        embeddings=False,
        json_mode=True,
        streaming=True,
        tools=True,
        vision=True,
        documents=True,
        audio_input=False,
        reasoning=True,
    )

    def __init__(
        self,
        config: ProviderConfig,
        client: anthropic.Anthropic,
        async_client_factory: Callable[[], anthropic.AsyncAnthropic],
        *,
        unsupported_params: str | None = None,
    ) -> None:
        # A reasoning level the model cannot honour: LLM_UNSUPPORTED_PARAMS unless given.
        self.unsupported_params = unsupported_params or config.unsupported_params
        self._config = config
        self._client = client
        log_redaction.install_for_provider(config.secrets)
        self._async = PerLoop(async_client_factory)
        self._bounds = TimeBounds(config, PROVIDER)

    def check_request(self, model: str, request: ChatRequest) -> None:
        """Refuse parts Claude cannot take (audio, oversized media), without sending."""
        if has_parts(request.messages):
            check_parts(request.messages, PART_RULES, model)

    # -- chat ---------------------------------------------------------------------------

    def chat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Send one Messages request and return the normalized reply."""
        kwargs = self._kwargs(model, request)
        with self._map_errors(model), self._bounds.request(model):
            message = raw.message_body(raw.post_message(self._client, kwargs))
            return from_anthropic_message(message, model=model, json_mode=request.json_mode)

    async def achat(self, model: str, request: ChatRequest) -> ChatResponse:
        """Asyncio twin of `chat`."""
        kwargs = self._kwargs(model, request)
        with self._map_errors(model), self._bounds.arequest(model):
            message = raw.message_body(await raw.apost_message(self._async.get(), kwargs))
            return from_anthropic_message(message, model=model, json_mode=request.json_mode)

    # -- streaming ----------------------------------------------------------------------

    def stream(self, model: str, request: ChatRequest) -> Iterator[ChatChunk]:
        """Stream the reply; the request is sent when iteration starts.

        Closing the iterator early closes the HTTP response.
        """
        kwargs = self._kwargs(model, request)
        state = StreamState(json_mode=request.json_mode, model=model)
        timer = self._bounds.stream(model)
        with self._map_errors(model):
            create = self._client.messages.with_streaming_response.create
            with timer.opened(create(**kwargs, stream=True)) as response:
                for event in timer.events(raw.events(response.http_response, self._client)):
                    chunk = state.feed(event)
                    if chunk is not None:
                        yield chunk
            if not state.finished:
                self._ended_early(model)

    async def astream(self, model: str, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Asyncio twin of `stream` (an async generator).

        After a ``break``, call ``aclose()`` on it (or iterate inside
        ``contextlib.aclosing``) to close the HTTP response at once rather than at collection.
        """
        kwargs = self._kwargs(model, request)
        state = StreamState(json_mode=request.json_mode, model=model)
        timer = self._bounds.astream(model)
        with self._map_errors(model):
            client = self._async.get()
            create = client.messages.with_streaming_response.create
            async with timer.opened(create(**kwargs, stream=True)) as response:
                async for event in timer.events(raw.aevents(response.http_response, client)):
                    chunk = state.feed(event)
                    if chunk is not None:
                        yield chunk
            if not state.finished:
                self._ended_early(model)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the asyncio clients whose event loop still exists (the container closes the
        blocking client). From inside a running loop, prefer `aclose`, which waits."""
        self._close_async_clients(skip=None)

    async def aclose(self) -> None:
        """Close the running loop's asyncio client and wait for it, then the others."""
        running = asyncio.get_running_loop()
        for loop, client in self._async.items():
            if loop is running:
                await client.close()
        self._close_async_clients(skip=running)

    def _close_async_clients(self, skip: asyncio.AbstractEventLoop | None) -> None:
        for loop, client in self._async.items():
            if loop is skip or loop.is_closed():
                continue
            if loop.is_running():  # in another thread: hand the close to that loop
                asyncio.run_coroutine_threadsafe(client.close(), loop)
            else:
                loop.run_until_complete(client.close())
        self._async.clear()

    # -- internals ----------------------------------------------------------------------

    def _kwargs(self, model: str, request: ChatRequest) -> dict[str, Any]:
        params = to_anthropic_params(model, request_for(request, PROVIDER), self.unsupported_params)
        return to_sdk_kwargs(params, _SDK_PARAMETERS)

    def _ended_early(self, model: str) -> NoReturn:
        raise ProviderUnavailableError(
            "stream ended early: the connection closed before message_stop",
            provider=PROVIDER,
            model=model,
        )

    @contextmanager
    def _map_errors(self, model: str) -> Iterator[None]:
        """Translate SDK and transport exceptions into `LLMError`s, chained and scrubbed."""
        secrets = self._config.secrets
        common: dict[str, Any] = {"provider": PROVIDER, "model": model, "secrets": secrets}
        try:
            yield
        except LLMError:
            raise
        except anthropic.APIStatusError as exc:
            raise _status_error(exc, common) from sanitize_exception(exc, secrets)
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
            message = f"no reply within {self._config.timeout:g}s"
            raise LLMTimeoutError(message, **common) from sanitize_exception(exc, secrets)
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            message = f"connection to Anthropic failed or dropped: {exc}"
            raise APIConnectionError(message, **common) from sanitize_exception(exc, secrets)
        except UnicodeEncodeError as exc:  # building the request, never reading a reply
            message = f"the request cannot be encoded as UTF-8: {exc.reason}"
            raise InvalidRequestError(message, **common) from sanitize_exception(exc, secrets)
        except _MALFORMED as exc:
            message = f"malformed reply from Anthropic: {type(exc).__name__}: {exc}"
            raise ProviderUnavailableError(message, **common) from sanitize_exception(exc, secrets)
        except anthropic.AnthropicError as exc:
            raise LLMError(f"Anthropic SDK error: {exc}", **common) from sanitize_exception(
                exc, secrets
            )


def _status_error(exc: anthropic.APIStatusError, common: dict[str, Any]) -> LLMError:
    """The `LLMError` for an HTTP error reply, or for an ``error`` event inside a stream."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    if isinstance(error, dict) and error.get("message"):
        message = f"{kind}: {error['message']}" if kind else str(error["message"])
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:500]
    else:
        message = f"HTTP {exc.status_code} with no error body"
    request_id = exc.request_id or (body.get("request_id") if isinstance(body, dict) else None)
    if request_id:
        message += f" (request_id: {request_id})"
    status = exc.status_code
    if status < 400:
        # An error event on a 200 stream: classify it by its type (overloaded_error is 529).
        status = ERROR_TYPE_STATUS.get(str(kind), 500)
    headers = dict(exc.response.headers) if exc.response is not None else None
    return error_from_status(status, message, code=kind, headers=headers, **common)
