"""Chat Completions sent and read at the HTTP level, through the SDK's client.

A reply: `post_chat` sends the body `mapping.to_openai_params` built with ``client.post(
"/chat/completions", cast_to=httpx2.Response)``, the SDK's documented call for any endpoint:
the SDK still applies the base URL (Azure's deployment path too), the auth, the timeouts, the
retries and the status-code → exception mapping, but skips two costs of ``chat.completions.
create``: re-walking the request against its TypedDicts (``maybe_transform``, about half the
SDK's own CPU per call, for a body that is JSON already) and building the ``ChatCompletion``
model. A stream goes through ``chat.completions.with_streaming_response.create``, and its SSE
lines are read here without building a ``ChatCompletionChunk`` per event. The JSON goes to the
dict mappers of `mapping` and `stream`.

The stream reader raises what the SDK's ``Stream`` raises: an ``error`` object in an event is
an ``openai.APIError`` with that body, a read that times out or fails is
``openai.APITimeoutError`` / ``openai.APIConnectionError``, an event that is not JSON is a
`json.JSONDecodeError`; ``data: [DONE]`` ends the stream.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from persona_llm.providers._raw import RawReply, SSELines, json_body, note, request_parts

__all__ = [
    "achunk_events",
    "apost_chat",
    "apost_responses",
    "chunk_events",
    "completion_body",
    "post_chat",
    "post_responses",
    "responses_body",
]

_READ_ERRORS = (httpx2.RequestError, ssl.SSLError)


def post_chat(client: openai.OpenAI, params: dict[str, Any]) -> httpx2.Response:
    """Send a Chat Completions request (``create``'s keyword arguments) and return the HTTP
    response, its body read; an error status raises the SDK's exception as ``create`` does."""
    body, options = request_parts(params)
    response = client.post("/chat/completions", body=body, cast_to=httpx2.Response, options=options)
    note(response.headers)  # for the rate limiter, when it collects them
    return response


async def apost_chat(client: openai.AsyncOpenAI, params: dict[str, Any]) -> httpx2.Response:
    """Asyncio twin of `post_chat`."""
    body, options = request_parts(params)
    response = await client.post(
        "/chat/completions", body=body, cast_to=httpx2.Response, options=options
    )
    note(response.headers)
    return response


def post_responses(client: openai.OpenAI, params: dict[str, Any]) -> httpx2.Response:
    """Send a Responses API request (``responses.create``'s keyword arguments) the same way."""
    body, options = request_parts(params)
    response = client.post("/responses", body=body, cast_to=httpx2.Response, options=options)
    note(response.headers)
    return response


async def apost_responses(client: openai.AsyncOpenAI, params: dict[str, Any]) -> httpx2.Response:
    """Asyncio twin of `post_responses`."""
    body, options = request_parts(params)
    response = await client.post("/responses", body=body, cast_to=httpx2.Response, options=options)
    note(response.headers)
    return response


def responses_body(response: httpx2.Response) -> Any:
    """A Responses API reply's JSON as a `RawReply` (``raw.output`` builds the SDK's
    ``Response``), or what the SDK would have handed back for a body that is not an object."""
    from openai.types.responses import Response  # with the Responses path only

    body = json_body(response)
    return RawReply(body, Response) if isinstance(body, dict) else body


def completion_body(response: httpx2.Response) -> Any:
    """The reply's JSON as a `RawReply` (``raw.choices`` builds the SDK model), or what the
    SDK would have handed back for a body that is not a JSON object."""
    body = json_body(response)
    return RawReply(body, ChatCompletion) if isinstance(body, dict) else body


def chunk_events(response: httpx2.Response) -> Iterator[Any]:
    """The JSON data of each ``chat.completion.chunk`` event, until ``[DONE]`` or the end."""
    note(response.headers)  # the stream's own headers, as it starts
    lines = SSELines()
    try:
        for line in response.iter_lines():
            if (sse := lines.feed(line)) is not None:
                if (data := _data(sse[1], response)) is _DONE:
                    return
                yield data
    except httpx2.TimeoutException as err:
        raise openai.APITimeoutError(request=response.request) from err
    except _READ_ERRORS as err:
        raise openai.APIConnectionError(request=response.request) from err


async def achunk_events(response: httpx2.Response) -> AsyncIterator[Any]:
    """Asyncio twin of `chunk_events`."""
    note(response.headers)  # the stream's own headers, as it starts
    lines = SSELines()
    try:
        async for line in response.aiter_lines():
            if (sse := lines.feed(line)) is not None:
                if (data := _data(sse[1], response)) is _DONE:
                    return
                yield data
    except httpx2.TimeoutException as err:
        raise openai.APITimeoutError(request=response.request) from err
    except _READ_ERRORS as err:
        raise openai.APIConnectionError(request=response.request) from err


_DONE: Any = object()


def _data(data: str, response: httpx2.Response) -> Any:
    if data.startswith("[DONE]"):
        return _DONE
    parsed = json.loads(data)
    if isinstance(parsed, dict) and parsed.get("error"):
        error = parsed["error"]
        message = error.get("message") if isinstance(error, dict) else None
        if not message or not isinstance(message, str):
            message = "An error occurred during streaming"
        raise openai.APIError(message=message, request=response.request, body=error)
    return parsed
