"""Pure conversions between our types and Gemini's (google-genai) request and reply shapes.

Outbound, `to_gemini_request` builds plain dicts (``contents`` and the keyword arguments of
``types.GenerateContentConfig``); the adapter turns them into SDK objects. Inbound, the
functions read SDK reply objects by attribute only, so this module never imports the SDK
and works on any object of the same shape.

Mapping rules (see DESIGN.md §2):

* Every system message, joined with a blank line, becomes ``system_instruction``. When the
  conversation holds nothing but system messages, their text is sent as the one user turn
  instead (Gemini rejects an empty ``contents``), so it is never dropped.
* ``assistant`` becomes ``model``; consecutive messages of one role are merged into one
  content with one text part each, because Gemini wants the roles to alternate.
* ``temperature``, ``max_output_tokens`` and ``stop_sequences`` are sent only when set.
* JSON mode sets ``response_mime_type="application/json"``; an OpenAI-style ``json_schema``
  also sends its ``schema`` as ``response_json_schema`` (plain JSON Schema; the SDK's
  ``response_schema`` accepts only Google's OpenAPI subset).
* ``request.options`` are keyword arguments of ``GenerateContentConfig`` (``top_p``,
  ``seed``, ``thinking_config``, ``safety_settings``, ``tools``...); the named parameters
  win over an option of the same name. Automatic function calling is off unless an option
  turns it on: function calls come back as `ToolCall`s rather than being run by the SDK.
* Tools, function calls (with their thought signatures) and function responses: see
  `_gemini_tools`. The request's tools come first in ``tools``, then an option's
  (``google_search`` and the like).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from persona_llm.arguments import refuse_empty_text, sdk_options
from persona_llm.errors import ContentFilterError, ProviderUnavailableError
from persona_llm.providers._errors import looks_like_html
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers.gemini.parts import PART_RULES, to_gemini_parts
from persona_llm.providers.gemini.reasoning import reasoning_text, text_signature, thinking_config
from persona_llm.providers.gemini.tools import (
    function_call_part,
    function_response_part,
    gemini_tool_calls,
    to_gemini_tool_config,
    to_gemini_tools,
)
from persona_llm.types import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ToolCall,
    Usage,
    lookup_finish_reason,
)

__all__ = [
    "EMBED_BATCH_LIMIT",
    "PROVIDER",
    "candidate_parts",
    "embedding_batches",
    "from_gemini_chunk",
    "from_gemini_embeddings",
    "from_gemini_response",
    "gemini_error_fields",
    "gemini_error_reason",
    "gemini_finish_reason",
    "gemini_retry_delay",
    "gemini_tool_calls",
    "gemini_usage",
    "to_gemini_contents",
    "to_gemini_embed_config",
    "to_gemini_request",
]

PROVIDER = "gemini"

EMBED_BATCH_LIMIT = 100
"""Most texts one ``batchEmbedContents`` request may carry (the API's limit)."""

_ROLES = {"user": "user", "assistant": "model"}

_FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


# -- requests ---------------------------------------------------------------------------


def to_gemini_contents(
    messages: Sequence[ChatMessage],
) -> tuple[list[dict[str, Any]], str | None]:
    """Split messages into Gemini ``contents`` and the ``system_instruction`` text.

    Returns:
        The contents (``{"role": "user"|"model", "parts": [{"text": ...}, ...]}`` dicts,
        roles alternating) and the joined system text, or None when there is none.
    """
    systems = [m.text for m in messages if m.role == "system"]
    system = "\n\n".join(systems) if systems else None
    contents: list[dict[str, Any]] = []
    calls: dict[str, ToolCall] = {}  # the latest call of each id, for the tool results
    for message in messages:
        if message.role == "system":
            continue
        calls.update((call.id, call) for call in message.tool_calls)
        role, parts = _turn(message, calls)
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if not contents and system is not None:
        return [{"role": "user", "parts": [{"text": system}]}], None
    return contents, system


def _turn(message: ChatMessage, calls: Mapping[str, ToolCall]) -> tuple[str, list[Any]]:
    if message.role == "tool":
        call = calls.get(message.tool_call_id or "")
        return "user", [function_response_part(message, call)]
    parts: list[dict[str, Any]] = []
    if type(message.content) is not str:
        parts += to_gemini_parts(message.content)
    elif message.content or not message.tool_calls:
        parts.append({"text": message.content})
    signature = message.provider_data.get("gemini", {}).get("text_signature")
    if signature and parts and "text" in parts[0]:
        parts[0] = {**parts[0], "thought_signature": signature}  # the SDK decodes base64
    parts += [function_call_part(call) for call in message.tool_calls]
    return _ROLES[message.role], parts


def _json_settings(response_format: Mapping[str, Any] | None) -> dict[str, Any]:
    if not response_format or response_format.get("type") not in {"json_object", "json_schema"}:
        return {}
    settings: dict[str, Any] = {"response_mime_type": "application/json"}
    spec = response_format.get("json_schema")
    if response_format.get("type") == "json_schema" and isinstance(spec, Mapping):
        schema = spec.get("schema")
        if schema is not None:
            settings["response_json_schema"] = dict(schema)
    return settings


def _gemini_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The call's options as ``GenerateContentConfig`` fields: ``n`` is ``candidate_count``,
    ``extra_headers``/``extra_body`` go in ``http_options``, the library's own are dropped."""
    result = sdk_options(options, "gemini", None)
    if "n" in result:
        result["candidate_count"] = result.pop("n")
    http = {
        field: result.pop(name)
        for field, name in (("headers", "extra_headers"), ("extra_body", "extra_body"))
        if name in result
    }
    if http:
        result["http_options"] = {**(result.get("http_options") or {}), **http}
    return result


def to_gemini_request(
    request: ChatRequest, model: str = "", unsupported_params: str = "error"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``contents`` and ``GenerateContentConfig`` keyword arguments for `request`.

    Raises:
        InvalidRequestError: a part Gemini cannot take (`persona_llm.providers.gemini.parts`).
    """
    if has_parts(request.messages):
        check_parts(request.messages, PART_RULES, model)
    refuse_empty_text(request.messages, "gemini", model)
    contents, system = to_gemini_contents(request.messages)
    config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
    options = dict(request.options)
    policy = str(options.pop("unsupported_params", unsupported_params))
    thinking = thinking_config(model, request.reasoning, policy)
    if thinking is not None:
        config["thinking_config"] = thinking  # an option of the same name wins
    config.update(_gemini_options(options))
    named: dict[str, Any] = {
        "system_instruction": system,
        "temperature": request.temperature,
        "max_output_tokens": request.max_tokens,
        "stop_sequences": list(request.stop) if request.stop else None,
    }
    config.update({key: value for key, value in named.items() if value is not None})
    config.update(_json_settings(request.response_format))
    if request.tools:
        config["tools"] = [*to_gemini_tools(request.tools), *(config.get("tools") or [])]
    if request.tool_choice is not None:
        config["tool_config"] = to_gemini_tool_config(request.tool_choice)
    return contents, config


def to_gemini_embed_config(
    options: Mapping[str, Any], default_dimensions: int | None
) -> dict[str, Any]:
    """``EmbedContentConfig`` keyword arguments from embedding options.

    ``dimensions`` (OpenAI's name) becomes ``output_dimensionality``, falling back to the
    configured default; every other option (``task_type``, ``title``...) is passed as is.
    """
    config = {key: value for key, value in options.items() if key != "dimensions"}
    dimensions = options.get("dimensions") or default_dimensions
    if dimensions and "output_dimensionality" not in config:
        config["output_dimensionality"] = int(dimensions)
    return config


def embedding_batches(texts: Sequence[str], size: int = EMBED_BATCH_LIMIT) -> Iterator[list[str]]:
    """Consecutive slices of at most `size` (at least 1) texts, in input order."""
    size = max(1, size)
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


# -- replies ----------------------------------------------------------------------------


def _value(raw: Any) -> str | None:
    """An SDK enum's wire value (the SDK uses str enums; plain strings pass through)."""
    if raw is None:
        return None
    return str(getattr(raw, "value", raw))


def gemini_finish_reason(raw: Any, has_function_calls: bool = False) -> FinishReason | None:
    """Normalize a Gemini ``finishReason`` (None when the reply has none)."""
    value = _value(raw)
    if value == "STOP" and has_function_calls:
        return "tool_calls"  # Gemini says STOP for function calls too
    return lookup_finish_reason(_FINISH_REASONS, value)


def gemini_usage(metadata: Any) -> Usage | None:
    """Normalize ``usageMetadata``; thinking tokens count as completion tokens."""
    if metadata is None:
        return None
    thoughts = getattr(metadata, "thoughts_token_count", None) or 0
    candidates = getattr(metadata, "candidates_token_count", None) or 0  # omitted when 0
    return Usage(
        prompt_tokens=getattr(metadata, "prompt_token_count", None) or 0,
        completion_tokens=candidates + thoughts,
        total_tokens=getattr(metadata, "total_token_count", None) or 0,
        reasoning_tokens=thoughts,
        cached_tokens=getattr(metadata, "cached_content_token_count", None) or 0,
    )


def _parts(candidate: Any) -> list[Any]:
    content = getattr(candidate, "content", None)
    return list(getattr(content, "parts", None) or [])


def candidate_parts(response: Any) -> list[Any]:
    """The parts of a reply's first candidate (``[]`` when it has none)."""
    candidates = getattr(response, "candidates", None) or []
    return _parts(candidates[0] if candidates else None)


def _text(parts: Sequence[Any]) -> str:
    """The reply text: every text part that is not a thought part, joined."""
    return "".join(
        part.text
        for part in parts
        if getattr(part, "text", None) and not getattr(part, "thought", None)
    )


def _raise_if_prompt_blocked(response: Any, model: str) -> None:
    feedback = getattr(response, "prompt_feedback", None)
    reason = _value(getattr(feedback, "block_reason", None))
    if reason is None or getattr(response, "candidates", None):
        return
    detail = getattr(feedback, "block_reason_message", None)
    raise ContentFilterError(
        f"Gemini's safety system blocked the prompt (blockReason {reason}"
        + (f": {detail})" if detail else ")"),
        provider=PROVIDER,
        model=model,
    )


def from_gemini_response(response: Any, model: str) -> ChatResponse:
    """Normalize a ``GenerateContentResponse``.

    A candidate without content or parts (``SAFETY``, ``MAX_TOKENS``) gives
    ``content=""`` with its finish reason.

    Raises:
        ContentFilterError: the prompt itself was blocked (``promptFeedback.blockReason``
            and no candidate).
        ProviderUnavailableError: no candidate and no block reason (``{}``, a list, an
            empty body), or a candidate with neither content nor finish reason: that is not
            an answer, and reading it as "" would hide the failure.
    """
    _raise_if_prompt_blocked(response, model)
    candidates = getattr(response, "candidates", None) or []
    candidate = candidates[0] if candidates else None
    if candidate is None or (
        getattr(candidate, "content", None) is None
        and getattr(candidate, "finish_reason", None) is None
    ):
        raise ProviderUnavailableError(
            "malformed reply from gemini: no candidate with content or a finish reason",
            provider=PROVIDER,
            model=model,
        )
    replies = [_from_candidate(response, c, model) for c in candidates]
    if len(replies) > 1:  # the option n (candidate_count): every reply, in order
        return replies[0].model_copy(update={"choices": replies})
    return replies[0]


def _from_candidate(response: Any, candidate: Any, model: str) -> ChatResponse:
    parts = _parts(candidate)
    tool_calls = gemini_tool_calls(parts)
    return ChatResponse(
        content=_text(parts),
        model=getattr(response, "model_version", None) or model,
        provider=PROVIDER,
        finish_reason=gemini_finish_reason(
            getattr(candidate, "finish_reason", None), bool(tool_calls)
        ),
        usage=gemini_usage(getattr(response, "usage_metadata", None)),
        tool_calls=tool_calls,
        reasoning=reasoning_text(parts),
        provider_data=text_signature(parts),
        raw=response,
    )


def from_gemini_chunk(response: Any, model: str) -> ChatChunk:
    """One streamed ``GenerateContentResponse`` as a `ChatChunk`.

    Usage is attached only to the chunk that carries the finish reason: Gemini repeats
    provisional counts on earlier events.
    """
    _raise_if_prompt_blocked(response, model)
    candidates = getattr(response, "candidates", None) or []
    candidate = candidates[0] if candidates else None
    parts = _parts(candidate)
    finish = gemini_finish_reason(
        getattr(candidate, "finish_reason", None), bool(gemini_tool_calls(parts))
    )
    usage = gemini_usage(getattr(response, "usage_metadata", None)) if finish else None
    return ChatChunk(
        delta=_text(parts),
        finish_reason=finish,
        usage=usage,
        reasoning=reasoning_text(parts) or "",
        provider_data=text_signature(parts),
    )


def from_gemini_embeddings(response: Any, expected: int, model: str) -> list[list[float]]:
    """The vectors of an ``EmbedContentResponse``, checked to be one per input text.

    Raises:
        ProviderUnavailableError: the reply holds a different number of embeddings.
    """
    embeddings = getattr(response, "embeddings", None) or []
    if len(embeddings) != expected:
        raise ProviderUnavailableError(
            f"malformed reply: {expected} texts were sent, the reply holds "
            f"{len(embeddings)} embeddings",
            provider=PROVIDER,
            model=model,
        )
    # The SDK has already parsed the values into a list of floats: keep it, don't copy it.
    return [embedding.values or [] for embedding in embeddings]


# -- errors -----------------------------------------------------------------------------


def _error_details(body: Any) -> list[Any]:
    """The ``error.details`` list of a Google API error body (any shape tolerated)."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, Mapping):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, Mapping) else None
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def gemini_error_reason(body: Any) -> str | None:
    """The ``ErrorInfo.reason`` of an error body (``API_KEY_INVALID``...), if any."""
    for detail in _error_details(body):
        reason = detail.get("reason")
        if isinstance(reason, str) and reason:
            return reason
    return None


def gemini_retry_delay(body: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``), if any."""
    for detail in _error_details(body):
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
    return None


def gemini_error_fields(
    body: Any, status: str | None, message: str, headers: Mapping[str, str] | None
) -> tuple[str, str | None, dict[str, str]]:
    """Message, code and headers of a Gemini error reply, for `error_from_status`.

    The code is the ``ErrorInfo.reason`` (``API_KEY_INVALID`` means a bad key although
    the status is 400), else the status name; a ``RetryInfo`` delay becomes a
    ``retry-after`` header when the reply has none.
    """
    merged = dict(headers or {})
    delay = gemini_retry_delay(body)
    if delay is not None and not any(name.lower() == "retry-after" for name in merged):
        merged["retry-after"] = f"{delay:g}"
    if status and not looks_like_html(message):  # an HTML page is summarized, not quoted
        message = f"{status}: {message}"
    return message, gemini_error_reason(body) or status, merged
