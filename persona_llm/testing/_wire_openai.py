"""OpenAI and Azure OpenAI reply bodies and streams (see ``persona_llm.testing.wire``)."""

from __future__ import annotations

import json
import struct
import time
import uuid
from base64 import b64encode
from collections.abc import Sequence
from typing import Any

from persona_llm.testing._emulator_types import SSEReply
from persona_llm.testing._wire_common import JSONDict, fragments, new_id

_FINGERPRINT = "fp_e5c2a1b3d4"


def openai_usage(
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    *,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
) -> JSONDict:
    """Returns a chat ``usage`` object with both detail objects filled in."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _filter_results(*, prompt: bool) -> JSONDict:
    safe = {"filtered": False, "severity": "safe"}
    results: JSONDict = {k: dict(safe) for k in ("hate", "self_harm", "sexual", "violence")}
    if prompt:
        results["jailbreak"] = {"filtered": False, "detected": False}
    else:
        results["protected_material_code"] = {"filtered": False, "detected": False}
        results["protected_material_text"] = {"filtered": False, "detected": False}
    return results


def _prompt_filter_results() -> list[JSONDict]:
    return [{"prompt_index": 0, "content_filter_results": _filter_results(prompt=True)}]


def _tool_call(call: JSONDict) -> JSONDict:
    """Expands ``{id, name, arguments}`` into the wire shape; full shapes pass through."""
    if "function" in call:
        return dict(call)
    arguments = call.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call.get("id") or new_id("call_"),
        "type": "function",
        "function": {"name": call["name"], "arguments": arguments},
    }


def openai_chat(
    content: str | None = "Hello",
    *,
    model: str = "gpt-4o-mini",
    finish_reason: str | None = None,
    refusal: str | None = None,
    tool_calls: Sequence[JSONDict] | None = None,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    reasoning_tokens: int = 0,
    cached_tokens: int = 0,
    azure: bool = False,
    reasoning_content: str | None = None,
) -> JSONDict:
    """Returns a ``chat.completion`` body (Azure's filter results added when ``azure``).

    ``tool_calls`` items are ``{id, name, arguments}`` (arguments a str or a dict) or
    full wire objects. ``finish_reason`` defaults to ``"tool_calls"`` when there are
    tool calls, else ``"stop"``. ``reasoning_content`` is what OpenAI-compatible reasoning
    servers (DeepSeek, vLLM) add to the message.
    """
    message: JSONDict = {"role": "assistant", "content": content, "refusal": refusal}
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    message["annotations"] = []
    if tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in tool_calls]
    choice: JSONDict = {"index": 0, "message": message, "logprobs": None}
    choice["finish_reason"] = finish_reason or ("tool_calls" if tool_calls else "stop")
    body: JSONDict = {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": openai_usage(
            prompt_tokens,
            completion_tokens,
            reasoning_tokens=reasoning_tokens,
            cached_tokens=cached_tokens,
        ),
        "system_fingerprint": _FINGERPRINT,
    }
    if azure:
        choice["content_filter_results"] = _filter_results(prompt=False)
        body["prompt_filter_results"] = _prompt_filter_results()
    else:
        body["service_tier"] = "default"
    return body


def _tool_call_deltas(tool_calls: Sequence[JSONDict]) -> list[JSONDict]:
    deltas: list[JSONDict] = []
    for index, call in enumerate(tool_calls):
        full = _tool_call(call)
        function = full["function"]
        opening = {"name": function["name"], "arguments": ""}
        head = {"index": index, "id": full["id"], "type": "function", "function": opening}
        deltas.append({"tool_calls": [head]})
        for fragment in fragments(function["arguments"]):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    return deltas


def _chunk(
    base: JSONDict, delta: JSONDict, *, finish: str | None = None, filters: JSONDict | None
) -> JSONDict:
    choice: JSONDict = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    if filters is not None:
        choice["content_filter_results"] = filters
    return {**base, "choices": [choice]}


def openai_chunks(
    pieces: Sequence[str],
    *,
    model: str = "gpt-4o-mini",
    finish_reason: str | None = None,
    usage: JSONDict | None = None,
    azure: bool = False,
    tool_calls: Sequence[JSONDict] | None = None,
    refusal: Sequence[str] | None = None,
) -> SSEReply:
    """Returns a ``chat.completion.chunk`` stream ending in ``data: [DONE]``.

    Content pieces come first, then refusal pieces, then tool calls streamed as
    argument fragments keyed by ``index``. ``usage`` adds the final usage-only chunk
    (``choices: []``) that ``stream_options.include_usage`` asks for. Azure streams
    open with a chunk that has no choices, an empty id and model, and the prompt
    filter results.
    """
    base: JSONDict = {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": _FINGERPRINT,
    }
    if not azure:
        base["service_tier"] = "default"
    if usage is not None:
        base["usage"] = None
    # Azure marks the role and finish chunks with empty filter results, content with full ones.
    empty: JSONDict | None = {} if azure else None
    full = _filter_results(prompt=False) if azure else None
    events: list[Any] = []
    if azure:
        events.append({"choices": [], "created": 0, "id": "", "model": "", "object": ""})
        events[0]["prompt_filter_results"] = _prompt_filter_results()
    first = "" if pieces or not (tool_calls or refusal) else None
    role = {"role": "assistant", "content": first, "refusal": None}
    events.append(_chunk(base, role, filters=empty))
    deltas: list[JSONDict] = [{"content": piece} for piece in pieces]
    deltas += [{"refusal": piece} for piece in refusal or []]
    deltas += _tool_call_deltas(tool_calls or [])
    for delta in deltas:
        event = _chunk(base, delta, filters=full)
        if not azure:
            event["obfuscation"] = uuid.uuid4().hex[:6]
        events.append(event)
    finish = finish_reason or ("tool_calls" if tool_calls else "stop")
    events.append(_chunk(base, {}, finish=finish, filters=empty))
    if usage is not None:
        events.append({**base, "choices": [], "usage": usage})
    return SSEReply(events, done=True)


def openai_error(
    message: str,
    *,
    type: str | None = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> JSONDict:
    """Returns an OpenAI error body ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def azure_content_filter_error() -> JSONDict:
    """Returns the 400 body of an Azure prompt blocked by the content filter."""
    result = _filter_results(prompt=True)
    result["violence"] = {"filtered": True, "severity": "medium"}
    message = (
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry."
    )
    innererror = {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result}
    error = {"message": message, "type": None, "param": "prompt", "code": "content_filter"}
    return {"error": {**error, "status": 400, "innererror": innererror}}


def openai_embeddings(
    vectors: Sequence[Sequence[float]],
    *,
    model: str = "text-embedding-3-small",
    base64: bool = True,
    prompt_tokens: int | None = None,
) -> JSONDict:
    """Returns an embeddings list; ``base64`` encodes vectors as float32 little-endian."""
    data = []
    for index, vector in enumerate(vectors):
        value: Any = list(vector)
        if base64:
            value = b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = len(vectors) if prompt_tokens is None else prompt_tokens
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}
