"""Pure conversion of Gemini replies (and error bodies) into our types.

The reply functions read either form of a reply (`persona_llm.providers.gemini.fields`): the
SDK's ``GenerateContentResponse`` on the SDK's path (streams, calls with SDK options) or the
JSON body on the wire path (`persona_llm.providers.gemini.wire`), with the same rules. This
module never imports the SDK. Requests are built by `persona_llm.providers.gemini.request`
(re-exported here, where they used to live).

* Reply text: every text part that is not a thought part, joined; thought parts are
  `ChatResponse.reasoning`. A candidate without content or parts (``SAFETY``,
  ``MAX_TOKENS``) is ``content=""`` with its finish reason.
* ``finishReason`` ``STOP`` with function calls is ``tool_calls``; ``usageMetadata``'s
  thinking tokens count as completion tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from persona_llm.errors import ContentFilterError, ProviderUnavailableError
from persona_llm.providers._errors import looks_like_html
from persona_llm.providers.gemini.fields import get
from persona_llm.providers.gemini.reasoning import reasoning_text, text_signature
from persona_llm.providers.gemini.request import (
    EMBED_BATCH_LIMIT,
    embedding_batches,
    to_gemini_contents,
    to_gemini_embed_config,
    to_gemini_request,
)
from persona_llm.providers.gemini.tools import gemini_tool_calls
from persona_llm.types import ChatChunk, ChatResponse, FinishReason, Usage, lookup_finish_reason

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

_FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


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
    thoughts = get(metadata, "thoughts_token_count", "thoughtsTokenCount") or 0
    candidates = (
        get(metadata, "candidates_token_count", "candidatesTokenCount") or 0
    )  # omitted when 0
    return Usage(
        prompt_tokens=get(metadata, "prompt_token_count", "promptTokenCount") or 0,
        completion_tokens=candidates + thoughts,
        total_tokens=get(metadata, "total_token_count", "totalTokenCount") or 0,
        reasoning_tokens=thoughts,
        cached_tokens=get(metadata, "cached_content_token_count", "cachedContentTokenCount") or 0,
    )


def _parts(candidate: Any) -> list[Any]:
    content = get(candidate, "content", "content")
    return list(get(content, "parts", "parts") or [])


def candidate_parts(response: Any) -> list[Any]:
    """The parts of a reply's first candidate (``[]`` when it has none)."""
    candidates = get(response, "candidates", "candidates") or []
    return _parts(candidates[0] if candidates else None)


def _text(parts: Sequence[Any]) -> str:
    """The reply text: every text part that is not a thought part, joined."""
    texts = (get(part, "text", "text") for part in parts if not get(part, "thought", "thought"))
    return "".join(text for text in texts if text)


def _raise_if_prompt_blocked(response: Any, model: str) -> None:
    feedback = get(response, "prompt_feedback", "promptFeedback")
    reason = _value(get(feedback, "block_reason", "blockReason"))
    if reason is None or get(response, "candidates", "candidates"):
        return
    detail = get(feedback, "block_reason_message", "blockReasonMessage")
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
    candidates = get(response, "candidates", "candidates") or []
    candidate = candidates[0] if candidates else None
    if candidate is None or (
        get(candidate, "content", "content") is None
        and get(candidate, "finish_reason", "finishReason") is None
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
        model=get(response, "model_version", "modelVersion") or model,
        provider=PROVIDER,
        finish_reason=gemini_finish_reason(
            get(candidate, "finish_reason", "finishReason"), bool(tool_calls)
        ),
        usage=gemini_usage(get(response, "usage_metadata", "usageMetadata")),
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
    candidates = get(response, "candidates", "candidates") or []
    candidate = candidates[0] if candidates else None
    parts = _parts(candidate)
    finish = gemini_finish_reason(
        get(candidate, "finish_reason", "finishReason"), bool(gemini_tool_calls(parts))
    )
    usage = gemini_usage(get(response, "usage_metadata", "usageMetadata")) if finish else None
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
