"""The google-genai SDK clients of the Gemini adapter: the Gemini API with a key, or Vertex AI.

* The key is passed explicitly (the SDK's own ``GOOGLE_API_KEY`` lookup never picks another)
  and travels in the ``x-goog-api-key`` header, never the URL. ``vertexai=False`` keeps
  ``GOOGLE_GENAI_USE_VERTEXAI`` from switching the client to Vertex AI.
* ``base_url`` (``GEMINI_BASE_URL``) is the host root without a version path; the version is
  ``v1beta`` (where ``responseJsonSchema`` and thinking live) unless `ProviderConfig.api_version`
  names another.
* The SDK takes a single timeout (milliseconds) for connect, read, write and pool wait, and
  overrides any httpx timeout with it: ``config.read_timeout`` is used (the whole-attempt and
  stream bounds are `_timebox`'s), ``config.connect_timeout``
  cannot be applied separately. The SDK also sends it as ``X-Server-Timeout``.
* The asyncio client always runs on httpx2, as the blocking one does: given an explicit
  transport, google-genai does not switch to aiohttp when aiohttp is installed (it would
  otherwise, and neither our time bounds, our stream cleanup nor its error details would
  follow: aiohttp's 400s arrive without their JSON details).
* The SDK's own retries are off (``HttpRetryOptions(attempts=1)``): retries are the library's
  policy (`persona_llm.reliability`), which honours Retry-After and logs each attempt.

On Vertex AI (`ProviderConfig.vertex`) the client has ``vertexai=True``, a project, a
location and Google credentials (`persona_llm.providers.gemini.vertex.vertex_auth`) instead of
a key, and the version is ``v1`` unless `ProviderConfig.api_version` names another.
"""

from __future__ import annotations

from typing import Any

import httpx2
from google import genai
from google.genai import types
from google.genai.client import AsyncClient

from persona_llm.errors import ConfigurationError
from persona_llm.providers._timebox import SYNC_HOOKS
from persona_llm.providers.gemini.sse import drop_sse_comments, drop_sse_comments_async
from persona_llm.providers.gemini.stream import collect_response
from persona_llm.providers.gemini.vertex import VERTEX_API_VERSION, vertex_auth
from persona_llm.settings import ProviderConfig

__all__ = ["DEFAULT_API_VERSION", "async_client", "sync_client"]

DEFAULT_API_VERSION = "v1beta"
"""The Gemini API version used unless `ProviderConfig.api_version` names another."""


# The blocking client's httpx2 hooks: time bounds (see _timebox) and SSE comments dropped.
_SYNC_HOOKS = {
    "request": SYNC_HOOKS["request"],
    "response": [drop_sse_comments, *SYNC_HOOKS["response"]],
}


def _client(
    config: ProviderConfig, hooks: dict[str, Any] | None = None, credentials: Any = None
) -> genai.Client:
    if config.vertex:
        return _vertex_client(config, hooks, credentials)
    if not config.api_key:
        # Without one the SDK would read GOOGLE_API_KEY itself, bypassing our settings.
        raise ConfigurationError(
            "GEMINI_API_KEY is not set: the gemini provider needs an API key",
            provider="gemini",
        )
    options = _http_options(config, hooks, DEFAULT_API_VERSION)
    return genai.Client(api_key=config.api_key, vertexai=False, http_options=options)


def _http_options(
    config: ProviderConfig, hooks: dict[str, Any] | None, version: str
) -> types.HttpOptions:
    return types.HttpOptions(
        base_url=config.base_url,
        api_version=config.api_version or version,
        timeout=max(1, round(config.read_timeout * 1000)),
        retry_options=types.HttpRetryOptions(attempts=1),  # persona_llm.reliability retries
        client_args={"event_hooks": _SYNC_HOOKS},
        async_client_args={"transport": httpx2.AsyncHTTPTransport(), "event_hooks": hooks}
        if hooks
        else None,
    )


def _vertex_client(
    config: ProviderConfig, hooks: dict[str, Any] | None, credentials: Any
) -> genai.Client:
    credentials, project = vertex_auth(config, credentials)
    return genai.Client(
        vertexai=True,
        credentials=credentials,
        project=project,
        location=config.location,
        http_options=_http_options(config, hooks, VERTEX_API_VERSION),
    )


def sync_client(config: ProviderConfig, credentials: Any = None) -> genai.Client:
    """A blocking google-genai client (the container closes it).

    Args:
        credentials: ``google.auth`` credentials for Vertex AI (tests pass a fake); found
            from the configuration when None.

    Raises:
        ConfigurationError: no key (Gemini API), or no credentials or project (Vertex AI).
    """
    return _client(config, credentials=credentials)


def async_client(config: ProviderConfig, credentials: Any = None) -> AsyncClient:
    """A new asyncio google-genai client (``Client.aio``) with its own connection pool."""
    hooks = {"response": [collect_response, drop_sse_comments_async]}
    return _client(config, hooks, credentials).aio
