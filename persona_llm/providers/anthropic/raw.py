"""Messages replies read from the HTTP body (the SDK's raw-response API).

``client.messages.with_raw_response.create(...)`` and ``with_streaming_response`` still do
the request, the auth, the timeouts and the status-code → exception mapping, but skip the
``Message`` / stream event models; the JSON goes to `mapping` and `stream`, which read dicts.
The stream reader follows the SDK's ``Stream``: ``ping`` events and events without a name are
skipped, an ``error`` event raises the SDK's status error for it (``client._make_status_error``,
as the SDK's own stream does), a failed read raises the SDK's timeout or connection error, and
an event that is not JSON is a `json.JSONDecodeError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from persona_llm.providers._raw import RawReply, SSELines, json_body

__all__ = ["aevents", "events", "message_body"]


def message_body(response: httpx2.Response) -> Any:
    """The reply's JSON as a `RawReply` (``raw.content`` builds the SDK model), or what the
    SDK would have handed back for a body that is not a JSON object."""
    body = json_body(response)
    return RawReply(body, Message) if isinstance(body, dict) else body


def events(response: httpx2.Response, client: anthropic.Anthropic) -> Iterator[Any]:
    """The JSON data of each stream event, in order."""
    lines = SSELines()
    source = response.iter_lines()
    while True:
        try:  # only a failure to read the body is a connection error, as in the SDK
            line = next(source, None)
        except anthropic.AnthropicError:
            raise
        except httpx2.TimeoutException as err:
            raise client._make_timeout_error(response.request, err) from err
        except Exception as err:
            raise client._make_connection_error(response.request, err) from err
        if line is None:
            return
        if (sse := lines.feed(line)) is not None and (data := _data(*sse, response, client)):
            yield data


async def aevents(
    response: httpx2.Response, client: anthropic.AsyncAnthropic
) -> AsyncIterator[Any]:
    """Asyncio twin of `events`."""
    lines = SSELines()
    source = response.aiter_lines()
    while True:
        try:
            line = await anext(source, None)
        except anthropic.AnthropicError:
            raise
        except httpx2.TimeoutException as err:
            raise client._make_timeout_error(response.request, err) from err
        except Exception as err:
            raise client._make_connection_error(response.request, err) from err
        if line is None:
            return
        if (sse := lines.feed(line)) is not None and (data := _data(*sse, response, client)):
            yield data


def _data(
    event: str | None,
    data: str,
    response: httpx2.Response,
    client: anthropic.Anthropic | anthropic.AsyncAnthropic,
) -> Any:
    """The event's JSON, or None for an event the SDK skips."""
    if event is None or event == "ping":
        return None
    if event == "error":
        body: Any = data
        try:
            body = json.loads(data)
            message = f"{body}"
        except Exception:
            message = data or f"Error code: {response.status_code}"
        raise client._make_status_error(message, body=body, response=response)
    if not data:
        return None
    return json.loads(data)
