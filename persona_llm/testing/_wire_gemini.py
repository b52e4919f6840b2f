"""Gemini reply bodies and streams (see ``persona_llm.testing.wire``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from persona_llm.testing._emulator_types import SSEReply
from persona_llm.testing._wire_common import JSONDict, new_id


def _gemini_usage(prompt: int, candidates: int, thoughts: int, cached: int = 0) -> JSONDict:
    usage: JSONDict = {"promptTokenCount": prompt}
    if cached:  # implicit caching: part of the prompt was read from the cache
        usage["cachedContentTokenCount"] = cached
    if candidates:  # the real API leaves the count out when it is zero
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _gemini_parts(parts_or_text: str | Sequence[Any]) -> list[JSONDict]:
    if isinstance(parts_or_text, str):
        return [{"text": parts_or_text}]
    return [{"text": p} if isinstance(p, str) else dict(p) for p in parts_or_text]


def gemini_response(
    parts_or_text: str | Sequence[Any] = "Hello",
    *,
    finish_reason: str | None = "STOP",
    prompt_tokens: int = 10,
    candidates_tokens: int = 5,
    thoughts_tokens: int = 0,
    cached_tokens: int = 0,
    model_version: str = "gemini-2.5-flash",
    no_parts: bool = False,
    no_content: bool = False,
) -> JSONDict:
    """Returns a ``generateContent`` reply.

    Parts are text, ``{"text", "thought": True}``, ``{"functionCall": {name, args}}``, any
    of them with a ``thoughtSignature``. ``no_parts``/``no_content`` give the empty
    candidates of ``MAX_TOKENS`` and ``SAFETY`` replies.
    """
    candidate: JSONDict = {}
    if not no_content:
        content: JSONDict = {"role": "model"}
        if not no_parts:
            content = {"parts": _gemini_parts(parts_or_text), "role": "model"}
        candidate["content"] = content
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": _gemini_usage(
            prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens
        ),
        "modelVersion": model_version,
        "responseId": new_id("", 22),
    }


def gemini_events(
    pieces: Sequence[Any],
    *,
    finish_reason: str = "STOP",
    prompt_tokens: int = 10,
    candidates_tokens: int = 5,
    thoughts_tokens: int = 0,
    model_version: str = "gemini-2.5-flash",
) -> SSEReply:
    """Returns an ``alt=sse`` stream: one reply per piece (a str or a part dict).

    The last event carries ``finishReason`` and ``usageMetadata``; events are separated
    by ``\\r\\n\\r\\n`` and there is no ``[DONE]``.
    """
    response_id = new_id("", 22)
    parts = _gemini_parts(pieces) or [{"text": ""}]
    events: list[Any] = []
    for part in parts:
        candidate = {"content": {"parts": [part], "role": "model"}, "index": 0}
        events.append({"candidates": [candidate], "modelVersion": model_version})
        events[-1]["responseId"] = response_id
    events[-1]["candidates"][0]["finishReason"] = finish_reason
    events[-1]["usageMetadata"] = _gemini_usage(prompt_tokens, candidates_tokens, thoughts_tokens)
    return SSEReply(events, separator="\r\n\r\n")


def gemini_error(code: int, message: str, status: str, reason: str | None = None) -> JSONDict:
    """Returns a Google API error; ``reason`` adds an ``ErrorInfo`` detail (API_KEY_INVALID)."""
    error: JSONDict = {"code": code, "message": message, "status": status}
    if reason is not None:
        info: JSONDict = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        }
        error["details"] = [info]
    return {"error": error}


def gemini_embeddings(vectors: Sequence[Sequence[float]]) -> JSONDict:
    """Returns a ``batchEmbedContents`` reply, one embedding per vector in order."""
    return {"embeddings": [{"values": list(vector)} for vector in vectors]}


def gemini_embedding(vector: Sequence[float]) -> JSONDict:
    """Returns an ``embedContent`` reply."""
    return {"embedding": {"values": list(vector)}}


def vertex_predictions(vectors: Sequence[Sequence[float]]) -> JSONDict:
    """Returns a Vertex AI ``:predict`` embeddings reply (older embedding models)."""
    predictions = [
        {"embeddings": {"values": list(v), "statistics": {"truncated": False, "token_count": 1}}}
        for v in vectors
    ]
    return {"predictions": predictions, "metadata": {"billableCharacterCount": len(vectors)}}
