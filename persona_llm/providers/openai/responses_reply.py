"""Pure reading of OpenAI Responses API replies (``response`` objects and their ``output``
items) into `ChatResponse`; the request side is `responses_mapping`, the stream assembler
`responses_stream`.

The text is every ``output_text`` part joined, the refusal every ``refusal`` part;
``function_call`` items are the tool calls; ``status: "incomplete"`` with
``incomplete_details.reason`` ``max_output_tokens`` is ``finish_reason="length"``,
``content_filter`` is ``"content_filter"``; a ``failed`` response raises the error its code
stands for; usage reads ``input_tokens``/``output_tokens`` and their cached and reasoning
details; reasoning summaries are the reasoning text. Replies are read by attribute or key, so
SDK objects and plain dicts both work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from persona_llm.errors import LLMError
from persona_llm.providers._errors import error_from_status
from persona_llm.providers._tool_calls import parse_arguments
from persona_llm.types import ChatResponse, FinishReason, ToolCall, Usage

__all__ = [
    "ReplyParts",
    "build_response",
    "error_of_response",
    "field",
    "from_responses",
    "read_output",
    "responses_finish",
    "responses_usage",
    "status_of_code",
]

_INCOMPLETE: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}


class ReplyParts:
    """What the ``output`` items of a response say: text, refusal, calls, reasoning."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: list[ToolCall] = []
        self.reasoning: list[str] = []
        self.pending_reasoning: list[dict[str, Any]] = []
        self.message_data: dict[str, Any] = {}
        """What the next turn needs of the text: its item id and the reasoning before it."""


def _plain(item: Any) -> dict[str, Any]:
    """An output item as a JSON-ready dict (SDK object or dict), ``None`` values left out."""
    if isinstance(item, Mapping):
        data = dict(item)
    else:
        dump = getattr(item, "model_dump", None)
        data = dump(mode="json", exclude_none=True) if dump else dict(vars(item))
    data.pop("status", None)  # an output field only; input items do not take it
    return {key: value for key, value in data.items() if value is not None}


def field(item: Any, name: str) -> Any:
    """`item.name` of an SDK object, or `item[name]` of a dict (the hot path of streams)."""
    if type(item) is dict:
        return item.get(name)
    value = getattr(item, name, None)
    if value is None and isinstance(item, Mapping):
        return item.get(name)
    return value


def read_output(items: Iterable[Any], *, provider: str, model: str) -> ReplyParts:
    """Text, refusal, tool calls and reasoning of ``output`` items.

    Reasoning items (with their ``encrypted_content``) go into the provider data of the item
    that follows them, with that item's id: a call's `ToolCall.provider_data`, or for the text
    the reply's ``provider_data["openai"]`` (``reasoning``, ``message_id``), so that both are
    sent back, in order, on the next turn (the API refuses a reasoning item without its
    following item, and an output item without its reasoning).

    Raises:
        ResponseParseError: a call's arguments are not a JSON object.
    """
    parts = ReplyParts()
    for item in items:
        kind = field(item, "type")
        if kind == "reasoning":
            parts.pending_reasoning.append(_plain(item))
            for summary in field(item, "summary") or []:
                if text := field(summary, "text"):
                    parts.reasoning.append(text)
        elif kind == "message":
            _message_data(item, parts)
            for part in field(item, "content") or []:
                part_kind = field(part, "type")
                if part_kind == "output_text":
                    parts.text.append(field(part, "text") or "")
                elif part_kind == "refusal":
                    parts.refusal.append(field(part, "refusal") or "")
        elif kind == "function_call":
            parts.calls.append(_tool_call(item, parts, provider, model))
    return parts


def _take_reasoning(item: Any, parts: ReplyParts, id_key: str) -> dict[str, Any]:
    """The reasoning items before `item` and its id (kept only with reasoning: items sent
    back without an id are new input, which the API does not pair with reasoning)."""
    if not parts.pending_reasoning:
        return {}
    data: dict[str, Any] = {"reasoning": parts.pending_reasoning}
    parts.pending_reasoning = []
    if item_id := field(item, "id"):
        data[id_key] = item_id
    return data


def _message_data(item: Any, parts: ReplyParts) -> None:
    if not parts.message_data:  # a second message item's text is joined to the first's
        parts.message_data = _take_reasoning(item, parts, "message_id")


def _tool_call(item: Any, parts: ReplyParts, provider: str, model: str) -> ToolCall:
    name = field(item, "name") or ""
    arguments = parse_arguments(field(item, "arguments"), name, provider, model)
    data = _take_reasoning(item, parts, "id")
    return ToolCall(
        id=field(item, "call_id") or field(item, "id") or "",
        name=name,
        arguments=arguments,
        provider_data={"openai": data} if data else {},
    )


def responses_finish(response: Any, has_tool_calls: bool) -> FinishReason:
    """The normalized finish reason of a response's ``status``."""
    status = field(response, "status")
    if status == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return _INCOMPLETE.get(str(reason), "other")
    if status not in (None, "completed"):
        return "other"
    return "tool_calls" if has_tool_calls else "stop"


def responses_usage(usage: Any) -> Usage | None:
    """`Usage` from a Responses ``usage`` object (cached and reasoning tokens included)."""
    if usage is None:
        return None
    return Usage(
        prompt_tokens=field(usage, "input_tokens") or 0,
        completion_tokens=field(usage, "output_tokens") or 0,
        total_tokens=field(usage, "total_tokens") or 0,
        reasoning_tokens=field(field(usage, "output_tokens_details"), "reasoning_tokens") or 0,
        cached_tokens=field(field(usage, "input_tokens_details"), "cached_tokens") or 0,
    )


def error_of_response(response: Any, *, provider: str, model: str) -> LLMError | None:
    """The error of a ``failed`` response (None for any other status)."""
    if field(response, "status") != "failed":
        return None
    error = field(response, "error")
    code = field(error, "code")
    message = field(error, "message") or "the response failed without an error message"
    return error_from_status(
        _STATUS_OF_CODE.get(str(code)), message, provider=provider, model=model, code=code
    )


_STATUS_OF_CODE = {
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "vector_store_timeout": 500,
    "invalid_prompt": 400,
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
}
"""HTTP status an error code inside a response or stream stands for (retry decisions)."""


def status_of_code(code: str | None) -> int | None:
    """The HTTP status an error code of a stream ``error`` event stands for, if known."""
    return _STATUS_OF_CODE.get(str(code))


def from_responses(response: Any, *, provider: str, model: str) -> ChatResponse:
    """`ChatResponse` from a ``response`` object.

    Raises:
        LLMError: the response has ``status: "failed"`` (mapped by its error code).
        ResponseParseError: tool-call arguments are not a JSON object.
    """
    failure = error_of_response(response, provider=provider, model=model)
    if failure is not None:
        raise failure
    parts = read_output(field(response, "output") or [], provider=provider, model=model)
    return build_response(response, parts, provider=provider, model=model)


def build_response(response: Any, parts: ReplyParts, *, provider: str, model: str) -> ChatResponse:
    """The `ChatResponse` of a response and what its output items said."""
    return ChatResponse(
        content="".join(parts.text),
        refusal="".join(parts.refusal) or None,
        model=field(response, "model") or model,
        provider=provider,
        finish_reason=responses_finish(response, bool(parts.calls)),
        usage=responses_usage(field(response, "usage")),
        tool_calls=parts.calls,
        reasoning="\n\n".join(parts.reasoning) or None,
        provider_data={"openai": parts.message_data} if parts.message_data else {},
        raw=response,
    )
