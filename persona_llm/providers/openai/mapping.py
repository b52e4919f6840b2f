"""Pure mapping of OpenAI Chat Completions / Embeddings replies (and error bodies) to our types.

Shared by the OpenAI and the Azure OpenAI adapters (Azure speaks the same bodies). Nothing here
does I/O or imports the SDK. Replies are read as JSON data: the adapters map the body of the
HTTP reply directly (`persona_llm.providers._raw`), and an SDK model passed in is read as its
dict (``to_dict()``), so there is one mapping for both and the tests need no network. Requests
are built by `persona_llm.providers.openai.request` (re-exported here, where they used to live).

A reply with tool calls reports ``finish_reason="tool_calls"`` even when the API says ``stop``
(it does when ``tool_choice`` names a function), so that the finish reason means the same on
every provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from persona_llm.errors import ProviderUnavailableError
from persona_llm.providers._errors import looks_like_html
from persona_llm.providers._raw import field, wire_body
from persona_llm.providers.openai.reasoning import reasoning_of
from persona_llm.providers.openai.request import (
    EMBEDDING_BATCH_LIMIT,
    PARTS_ALL,
    UNSUPPORTED_PARAMS_OPTION,
    UnsupportedParams,
    check_openai_parts,
    embedding_params,
    is_reasoning_model,
    rejects_temperature,
    to_openai_messages,
    to_openai_params,
)
from persona_llm.providers.openai.tools import (
    openai_tool_calls,
    to_openai_tool_choice,
    to_openai_tools,
    tool_calls_finish,
    wire_tool_call,
)
from persona_llm.types import ChatResponse, FinishReason, Usage, lookup_finish_reason

__all__ = [
    "EMBEDDING_BATCH_LIMIT",
    "PARTS_ALL",
    "UNSUPPORTED_PARAMS_OPTION",
    "UnsupportedParams",
    "add_embedding_usage",
    "check_openai_parts",
    "embedding_params",
    "error_details",
    "from_openai_chunk",
    "from_openai_completion",
    "is_reasoning_model",
    "normalize_finish_reason",
    "openai_tool_calls",
    "rejects_temperature",
    "to_openai_messages",
    "to_openai_params",
    "to_openai_tool_choice",
    "to_openai_tools",
    "tool_calls_finish",
    "usage_from_openai",
    "vectors_from_openai",
    "wire_tool_call",
]

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def normalize_finish_reason(value: str | None) -> FinishReason | None:
    """The normalized finish reason; ``None`` stays None, unknown values become ``other``."""
    return lookup_finish_reason(_FINISH_REASONS, value)


def usage_from_openai(usage: Any) -> Usage | None:
    """`Usage` from a ``usage`` object (reasoning and cached tokens from the detail objects)."""
    usage = wire_body(usage)
    if usage is None:
        return None
    return Usage(
        prompt_tokens=field(usage, "prompt_tokens") or 0,
        completion_tokens=field(usage, "completion_tokens") or 0,
        total_tokens=field(usage, "total_tokens") or 0,
        reasoning_tokens=field(field(usage, "completion_tokens_details"), "reasoning_tokens") or 0,
        cached_tokens=field(field(usage, "prompt_tokens_details"), "cached_tokens") or 0,
    )


def from_openai_completion(completion: Any, *, provider: str, model: str) -> ChatResponse:
    """`ChatResponse` from a ``chat.completion`` (the first choice): the JSON body as a dict
    (the adapters' raw-response path) or the SDK's ``ChatCompletion`` (read as its dict).

    A reply that lacks what a completion must have (choices, the choice's ``message``, a
    message's ``content`` when it has no tool calls and no refusal) is malformed; only one
    that *says* it is empty (``content: ""`` or ``null``) gives ``""``. `raw` is what was
    passed in.

    Raises:
        ProviderUnavailableError: the reply is malformed (an HTML page, no choices, no
            message, no content).
        ResponseParseError: tool-call arguments are not a JSON object.
    """
    body = wire_body(completion)
    choices = field(body, "choices")
    if not choices:
        raise _malformed(completion, "the completion has no choices", provider, model)
    first = _from_choice(completion, body, choices[0], provider, model)
    if len(choices) > 1:  # the option n: every reply, in the order of their index
        ordered = sorted(choices, key=lambda c: field(c, "index") or 0)
        replies = [_from_choice(completion, body, c, provider, model) for c in ordered]
        return replies[0].model_copy(update={"choices": replies})
    return first


def _from_choice(
    completion: Any, body: Any, choice: Any, provider: str, model: str
) -> ChatResponse:
    message = field(choice, "message")
    if message is None:
        raise _malformed(completion, "the choice has no message", provider, model)
    tool_calls = openai_tool_calls(message, provider, model)
    refusal = field(message, "refusal")
    if not (tool_calls or (isinstance(message, dict) and "content" in message) or refusal):
        raise _malformed(completion, "the message has no content", provider, model)
    finish = normalize_finish_reason(field(choice, "finish_reason"))
    return ChatResponse(
        content=message.get("content") or "",
        refusal=refusal,
        model=body.get("model") or model,
        provider=provider,
        finish_reason=tool_calls_finish(finish, bool(tool_calls)),
        usage=usage_from_openai(body.get("usage")),
        tool_calls=tool_calls,
        reasoning=reasoning_of(message),
        raw=completion,
    )


def _malformed(completion: Any, what: str, provider: str, model: str) -> ProviderUnavailableError:
    if isinstance(completion, str | bytes):  # the SDK hands back a body that is not JSON
        text = completion.decode(errors="replace") if isinstance(completion, bytes) else completion
        if looks_like_html(text):
            what = "the provider (or a proxy in front of it) answered an HTML page, status 200"
        else:
            what = "the reply is not JSON"
    return ProviderUnavailableError(f"malformed reply: {what}", provider=provider, model=model)


def from_openai_chunk(chunk: Any) -> tuple[str, FinishReason | None, Usage | None]:
    """Text delta, finish reason and usage of one ``chat.completion.chunk`` (each may be empty;
    the event's JSON data as a dict, or the SDK's ``ChatCompletionChunk``).

    Azure's opening chunk and the final usage chunk have no choices; both give ``""``.
    """
    chunk = wire_body(chunk)
    usage = usage_from_openai(field(chunk, "usage"))
    choices = field(chunk, "choices")
    if not choices:
        return "", None, usage
    choice = choices[0]
    text = field(field(choice, "delta"), "content") or ""
    return text, normalize_finish_reason(field(choice, "finish_reason")), usage


def vectors_from_openai(
    response: Any, expected: int, *, provider: str, model: str
) -> list[list[float]]:
    """Vectors ordered by ``data[].index``.

    Raises:
        ProviderUnavailableError: the reply does not hold exactly one vector per input.
    """
    data = sorted(getattr(response, "data", None) or [], key=lambda item: item.index)
    if [item.index for item in data] != list(range(expected)):
        raise ProviderUnavailableError(
            f"malformed reply: expected {expected} embeddings indexed 0..{expected - 1}, "
            f"got indexes {[item.index for item in data]}",
            provider=provider,
            model=model,
        )
    # The SDK has already decoded the base64 into a list of floats: keep it, don't copy it.
    return [item.embedding for item in data]


def add_embedding_usage(total: Usage | None, response: Any) -> Usage | None:
    """`total` plus the token counts of one embeddings reply (None once a reply has none)."""
    usage = getattr(response, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None)
    if total is None or tokens is None:
        return None
    return Usage(prompt_tokens=total.prompt_tokens + int(tokens))


def error_details(body: object) -> tuple[str | None, str | None]:
    """Message and machine-readable code of an error body (the SDK's ``exc.body``).

    The SDK hands over the ``error`` object of a JSON reply, or the raw text of any other reply
    (HTML pages, plain text). Azure's content filter can name itself only in ``innererror``.
    """
    if isinstance(body, str):
        return body.strip() or None, None
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error", body)
    if not isinstance(error, Mapping):
        return str(error), None
    message = error.get("message")
    code = error.get("code")
    inner = error.get("innererror")
    if isinstance(inner, Mapping) and inner.get("code") == "ResponsibleAIPolicyViolation":
        code = "content_filter"
    return (
        message if isinstance(message, str) and message else None,
        str(code) if code is not None else None,
    )
