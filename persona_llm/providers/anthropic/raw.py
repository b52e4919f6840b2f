"""Messages sent and read at the HTTP level, through the SDK's client.

A reply: `post_message` sends the body with ``client.post("/v1/messages", cast_to=
httpx2.Response)``, the SDK's call for any endpoint: the SDK still applies the base URL, the
auth, the timeouts and the status-code → exception mapping, but builds no ``Message`` model
(and skips ``messages.create``'s argument handling, whose warnings are repeated here). A
stream goes through ``messages.with_streaming_response.create`` and its SSE lines are read
here, without a model per event. The JSON goes to `mapping` and `stream`, which read dicts.
The stream reader follows the SDK's ``Stream``: ``ping`` events and events without a name are
skipped, an ``error`` event raises the SDK's status error for it (``client._make_status_error``,
as the SDK's own stream does), a failed read raises the SDK's timeout or connection error, and
an event that is not JSON is a `json.JSONDecodeError`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
from anthropic._data import DEPRECATED_MODELS, MODELS_TO_WARN_WITH_THINKING_ENABLED
from anthropic.types import Message

from persona_llm.providers._raw import RawReply, SSELines, json_body, note, request_parts

__all__ = ["aevents", "apost_message", "events", "message_body", "post_message"]

# messages.create's own keywords that travel as headers.
_HEADER_PARAMS = {
    "user_profile_id": "anthropic-user-profile-id",
    "workspace_id": "anthropic-workspace-id",
}


def _request(kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    body, options = request_parts(kwargs)
    headers = {_HEADER_PARAMS[k]: body.pop(k) for k in list(body) if k in _HEADER_PARAMS}
    if headers:
        options["headers"] = {**headers, **(options.get("headers") or {})}
    _warn_as_create_does(body)
    return body, options


def _warn_as_create_does(body: dict[str, Any]) -> None:
    model, thinking = body.get("model"), body.get("thinking")
    if model in DEPRECATED_MODELS:
        warnings.warn(
            f"The model '{model}' is deprecated and will reach end-of-life on "
            f"{DEPRECATED_MODELS[model]}.\nPlease migrate to a newer model. Visit "
            "https://docs.anthropic.com/en/docs/resources/model-deprecations for more "
            "information.",
            DeprecationWarning,
            stacklevel=4,
        )
    enabled = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    if model in MODELS_TO_WARN_WITH_THINKING_ENABLED and enabled:
        warnings.warn(
            f"Using Claude with {model} and 'thinking.type=enabled' is deprecated. Use "
            "'thinking.type=adaptive' instead which results in better model performance in "
            "our testing: https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking",
            UserWarning,
            stacklevel=4,
        )


def post_message(client: anthropic.Anthropic, kwargs: dict[str, Any]) -> httpx2.Response:
    """Send a Messages request (``create``'s keyword arguments) and return the HTTP response,
    its body read; an error status raises the SDK's exception as ``create`` does."""
    body, options = _request(kwargs)
    response = client.post("/v1/messages", body=body, cast_to=httpx2.Response, options=options)
    note(response.headers)  # for the rate limiter, when it collects them
    return response


async def apost_message(
    client: anthropic.AsyncAnthropic, kwargs: dict[str, Any]
) -> httpx2.Response:
    """Asyncio twin of `post_message`."""
    body, options = _request(kwargs)
    response = await client.post(
        "/v1/messages", body=body, cast_to=httpx2.Response, options=options
    )
    note(response.headers)
    return response


def message_body(response: httpx2.Response) -> Any:
    """The reply's JSON as a `RawReply` (``raw.content`` builds the SDK model), or what the
    SDK would have handed back for a body that is not a JSON object."""
    body = json_body(response)
    return RawReply(body, Message) if isinstance(body, dict) else body


def events(response: httpx2.Response, client: anthropic.Anthropic) -> Iterator[Any]:
    """The JSON data of each stream event, in order."""
    note(response.headers)  # the stream's own headers, as it starts
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
    note(response.headers)  # the stream's own headers, as it starts
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
