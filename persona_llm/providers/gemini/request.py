"""Pure conversion of our requests to google-genai's request shapes (no SDK import, no I/O).

`to_gemini_request` builds plain dicts with the SDK's field names: ``contents`` and the keyword
arguments of ``types.GenerateContentConfig``. The adapter either hands them to the SDK's
public ``models.generate_content`` or, when they hold nothing but what this module built,
turns them into the wire body itself (`persona_llm.providers.gemini.wire`).

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
  `persona_llm.providers.gemini.tools`. The request's tools come first in ``tools``, then an
  option's (``google_search`` and the like).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from persona_llm.arguments import refuse_empty_text, sdk_options
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers.gemini.parts import PART_RULES, to_gemini_parts
from persona_llm.providers.gemini.reasoning import thinking_config
from persona_llm.providers.gemini.tools import (
    function_call_part,
    function_response_part,
    to_gemini_tool_config,
    to_gemini_tools,
)
from persona_llm.types import ChatMessage, ChatRequest, ToolCall

__all__ = [
    "EMBED_BATCH_LIMIT",
    "GeminiRequest",
    "embedding_batches",
    "gemini_request",
    "to_gemini_contents",
    "to_gemini_embed_config",
    "to_gemini_request",
]

EMBED_BATCH_LIMIT = 100
"""Most texts one ``batchEmbedContents`` request may carry (the API's limit)."""

_ROLES = {"user": "user", "assistant": "model"}


class GeminiRequest(NamedTuple):
    """A chat request in google-genai's shapes.

    Attributes:
        contents: the ``contents`` dicts.
        config: ``GenerateContentConfig`` keyword arguments.
        sdk_options: the caller passed SDK options (``provider_options`` / keyword
            arguments): `config` holds values only the SDK knows how to check and send.
    """

    contents: list[dict[str, Any]]
    config: dict[str, Any]
    sdk_options: bool


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


def gemini_request(
    request: ChatRequest, model: str = "", unsupported_params: str = "error"
) -> GeminiRequest:
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
    extra = _gemini_options(options)
    config.update(extra)
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
    return GeminiRequest(contents, config, bool(extra))


def to_gemini_request(
    request: ChatRequest, model: str = "", unsupported_params: str = "error"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``contents`` and ``GenerateContentConfig`` keyword arguments for `request`
    (`gemini_request` without the flag)."""
    contents, config, _ = gemini_request(request, model, unsupported_params)
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
