"""Chat Completions replies read from the HTTP body (the SDK's raw-response API).

``client.chat.completions.with_raw_response.create(...)`` and ``with_streaming_response``
still do the request, the auth, the timeouts and the status-code → exception mapping, but skip
the ``ChatCompletion`` / ``ChatCompletionChunk`` models; the JSON goes to the dict mapper of
`mapping` and `stream`. The stream reader raises what the SDK's ``Stream`` raises: an ``error``
object in an event is an ``openai.APIError`` with that body, a read that times out or fails is
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

from persona_llm.providers._raw import RawReply, SSELines, json_body

__all__ = ["achunk_events", "chunk_events", "completion_body"]

_READ_ERRORS = (httpx2.RequestError, ssl.SSLError)


def completion_body(response: httpx2.Response) -> Any:
    """The reply's JSON as a `RawReply` (``raw.choices`` builds the SDK model), or what the
    SDK would have handed back for a body that is not a JSON object."""
    body = json_body(response)
    return RawReply(body, ChatCompletion) if isinstance(body, dict) else body


def chunk_events(response: httpx2.Response) -> Iterator[Any]:
    """The JSON data of each ``chat.completion.chunk`` event, until ``[DONE]`` or the end."""
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
