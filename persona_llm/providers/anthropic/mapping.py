"""Pure request/response mapping for Anthropic's Messages API (no SDK import, no I/O).

Requests (`to_anthropic_params`):

* Every ``system`` message is joined (``"\\n\\n"``) into the top-level ``system`` field, in
  order; none is dropped and none is sent as a message.
* Consecutive messages of the same role (also those made adjacent by removing a system
  message) are merged into one, their contents joined with ``"\\n\\n"``: the API wants
  alternating turns.
* A conversation that starts with an ``assistant`` message is sent as it is: nothing is
  inserted or dropped. The current API reference no longer requires a leading user turn;
  an endpoint that still does (older gateways) answers 400 ``first message must use the
  "user" role``, which surfaces as `InvalidRequestError` with that message. Inventing a user
  turn would change the conversation, dropping the greeting would lose context. A trailing
  ``assistant`` message is Anthropic's prefill: the reply continues it.
* ``max_tokens`` is required by the API: the caller's value, else `default_max_tokens`.
* ``temperature`` only when set, ``stop`` → ``stop_sequences``; ``request.options`` are
  applied last, unchanged (they win), except ``tools``, which are added after the request's
  tools (and before the JSON tool).
* Tools, tool calls and tool results: see `_anthropic_tools` (``tool_use`` blocks in the
  assistant turn, ``tool_result`` blocks in one user turn, thinking blocks sent back).

JSON mode (``json_object`` and ``json_schema``) uses a forced tool: ``tools=[{"name":
"json_output", "input_schema": <schema or {"type": "object"}>}]`` with ``tool_choice={"type":
"tool", "name": "json_output"}``; the reply's ``content`` is the tool input as JSON text, and
the ``tool_use`` stop counts as ``stop``. It works on every Claude model, and for
``json_object`` it is the only real mechanism: native structured outputs
(``output_config.format``) exist in the SDK but need a schema whose objects forbid extra
properties and are limited to newer models. Native output is used instead when the
caller turned ``thinking`` on (the API rejects a forced tool with thinking) or passed
``output_config.format`` itself; ``json_object`` with thinking is refused before sending.
With the request's own tools as well, the model must answer through a tool (``tool_choice``
``any``): one of the caller's, or ``json_output`` with the final answer (see
`_anthropic_tools.json_tool_choice`).

Replies (`from_anthropic_message`): ``content`` joins every ``text`` block (no separator:
they are consecutive text), ``thinking``/``redacted_thinking`` are left out; ``tool_use``
blocks become `ToolCall`s (the reply's thinking blocks kept on the first one, to be sent
back). ``prompt_tokens`` = ``input_tokens`` +
``cache_creation_input_tokens`` + ``cache_read_input_tokens`` (Anthropic counts cached
input separately; all three were input), ``cached_tokens`` = ``cache_read_input_tokens``,
``reasoning_tokens`` = ``output_tokens_details.thinking_tokens`` when reported.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from persona_llm.arguments import refuse_empty_text, sdk_options
from persona_llm.errors import InvalidRequestError
from persona_llm.providers._errors import looks_like_html
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers.anthropic.json_mode import (
    JSON_TOOL_NAME,
    json_mode_params,
    request_tools,
)
from persona_llm.providers.anthropic.parts import (
    PART_RULES,
    limit_breakpoints,
    mark_last,
    to_anthropic_blocks,
)
from persona_llm.providers.anthropic.reasoning import reasoning_params
from persona_llm.providers.anthropic.tools import (
    field_of,
    merge_content,
    message_turn,
    reasoning_text,
    thinking_block,
    thinking_data,
    to_anthropic_tool_choice,
    with_thinking,
)
from persona_llm.types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ToolCall,
    Usage,
    lookup_finish_reason,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ERROR_TYPE_STATUS",
    "FALLBACK_MAX_TOKENS",
    "JSON_TOOL_NAME",
    "PROVIDER",
    "default_max_tokens",
    "from_anthropic_message",
    "refusal_message",
    "to_anthropic_messages",
    "to_anthropic_params",
    "to_finish_reason",
    "to_sdk_kwargs",
    "to_usage",
]

PROVIDER = "anthropic"

DEFAULT_MAX_TOKENS: dict[str, int] = {
    "claude-3-": 4096,  # Claude 3 Haiku/Sonnet/Opus: 4,096 is their output ceiling
    "claude-3-5-": 8192,
    "claude-3-7-": 8192,
    "claude-haiku-": 8192,  # 4.x and later families
    "claude-sonnet-": 8192,
    "claude-opus-": 8192,
    "claude-fable-": 8192,
    "claude-mythos-": 8192,
}
"""``max_tokens`` sent when the caller gives none, by model-name prefix (longest wins).

The API rejects a request without ``max_tokens``, and one above the model's output ceiling.
The values are at or below every listed model's ceiling, so they are never rejected, and
large enough for ordinary replies; a reply cut at the limit ends with ``finish_reason=
"length"``. Pass ``max_tokens`` for long outputs.
"""

FALLBACK_MAX_TOKENS = 4096
"""For model names no prefix matches: every Claude model accepts 4,096."""

ERROR_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
"""HTTP status of each Anthropic ``error.type``: classifies an ``error`` event in a stream,
which arrives on a 200 response."""

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    # The reply could not grow because the context window was full: a length limit too.
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


@functools.lru_cache(maxsize=256)
def default_max_tokens(model: str) -> int:
    """The ``max_tokens`` for `model` when the caller sets none (see `DEFAULT_MAX_TOKENS`)."""
    matches = [prefix for prefix in DEFAULT_MAX_TOKENS if model.startswith(prefix)]
    return DEFAULT_MAX_TOKENS[max(matches, key=len)] if matches else FALLBACK_MAX_TOKENS


def to_anthropic_messages(
    messages: Iterable[ChatMessage], *, cache_prompt: bool = False
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Split system messages off and merge consecutive same-role turns.

    Plain system texts are joined into one string. When a system message has parts, or
    `cache_prompt` is on, ``system`` is a list of text blocks instead (one per message or
    part, the cache breakpoints on their blocks; `cache_prompt` marks the last one).

    Returns:
        The ``system`` (None when there is no system message) and the ``messages``.
    """
    system: list[ChatMessage] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message)
            continue
        role, content = message_turn(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = merge_content(turns[-1]["content"], content)
        else:
            turns.append({"role": role, "content": content})
    return _system(system, cache_prompt), turns


def _system(messages: list[ChatMessage], cache_prompt: bool) -> str | list[dict[str, Any]] | None:
    if not messages:
        return None
    if not cache_prompt and all(type(m.content) is str for m in messages):
        return "\n\n".join(m.text for m in messages)
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if type(message.content) is str:
            blocks.append({"type": "text", "text": message.content})
        else:
            blocks += to_anthropic_blocks(message.content)
    if cache_prompt:
        mark_last(blocks)
    return blocks


_PENALTIES = ("presence_penalty", "frequency_penalty")


def to_anthropic_params(
    model: str, request: ChatRequest, unsupported_params: str = "error"
) -> dict[str, Any]:
    """The arguments of ``messages.create`` (as the API names them) for `request`.

    `unsupported_params` (``error``/``drop``; the call's ``unsupported_params`` option wins)
    says what a ``reasoning`` level the model cannot honour does (`anthropic.reasoning`).

    Raises:
        InvalidRequestError: only system messages, a part or reasoning level Claude cannot
            take, or a JSON mode Anthropic cannot honour.
    """
    if has_parts(request.messages):
        check_parts(request.messages, PART_RULES, model)
    refuse_empty_text(request.messages, PROVIDER, model)
    system, messages = to_anthropic_messages(request.messages, cache_prompt=request.cache_prompt)
    if not messages:
        raise InvalidRequestError(
            "Anthropic needs at least one user or assistant message besides the system prompt",
            provider=PROVIDER,
            model=model,
        )
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or default_max_tokens(model),
        "messages": messages,
    }
    if system is not None:
        params["system"] = system
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    options = dict(request.options)
    policy = str(options.pop("unsupported_params", unsupported_params))
    options = sdk_options(options, "anthropic", model, lacks=("n", "seed", *_PENALTIES))
    thinking = reasoning_params(request, options, params["max_tokens"], model, policy)
    if "output_config" in thinking:  # the caller's output_config keys win
        thinking["output_config"] = {
            **thinking["output_config"],
            **options.get("output_config", {}),
        }
    options.update(thinking)
    if request.json_mode and request.response_format is not None:
        params.update(json_mode_params(request, request.response_format, options, model))
    if "tools" not in params and (tools := request_tools(request, options)):
        params["tools"] = tools
    if "tool_choice" not in params and request.tool_choice is not None:
        params["tool_choice"] = to_anthropic_tool_choice(request.tool_choice)
    params.update(options)
    if request.cache_prompt and params.get("tools"):
        params["tools"] = list(params["tools"])
        mark_last(params["tools"])
    if request.cache_prompt or has_parts(request.messages):
        limit_breakpoints(params)
    return params


def to_sdk_kwargs(params: Mapping[str, Any], sdk_parameters: Collection[str]) -> dict[str, Any]:
    """Keyword arguments for the SDK's ``create``: fields it has no keyword for go in
    ``extra_body`` (the installed SDK has no ``temperature`` keyword, for one), so every
    option reaches the API unchanged instead of failing with a TypeError."""
    kwargs = {k: v for k, v in params.items() if k in sdk_parameters}
    extra = {k: v for k, v in params.items() if k not in sdk_parameters}
    if extra:
        # The caller's own extra_body wins, as the SDK documents for it.
        kwargs["extra_body"] = {**extra, **(kwargs.get("extra_body") or {})}
    return kwargs


def to_finish_reason(stop_reason: str | None) -> FinishReason | None:
    """Anthropic ``stop_reason`` → normalized finish reason (``other`` when unknown)."""
    return lookup_finish_reason(_FINISH_REASONS, stop_reason)


def to_usage(usage: Any) -> Usage | None:
    """Anthropic usage → `Usage` (cache reads and writes count as prompt tokens)."""
    if usage is None:
        return None
    cache_read = field_of(usage, "cache_read_input_tokens") or 0
    cache_write = field_of(usage, "cache_creation_input_tokens") or 0
    prompt = (field_of(usage, "input_tokens") or 0) + cache_write + cache_read
    completion = field_of(usage, "output_tokens") or 0
    details = field_of(usage, "output_tokens_details")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        reasoning_tokens=(field_of(details, "thinking_tokens") or 0) if details is not None else 0,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def refusal_message(stop_details: Any) -> str:
    """A short explanation for a ``refusal`` stop, from ``stop_details`` when present."""
    explanation = field_of(stop_details, "explanation") if stop_details is not None else None
    category = field_of(stop_details, "category") if stop_details is not None else None
    if explanation:
        return str(explanation)
    suffix = f" (category: {category})" if category else ""
    return f"Claude declined to answer this request{suffix}"


def _blocks(message: Any) -> Sequence[Any]:
    content = field_of(message, "content")
    if not isinstance(content, Sequence) or isinstance(content, (str, bytes)):
        raise ValueError(f"reply has no content block list (content={content!r:.80})")
    return content


def _text_of(block: Any) -> str:
    """A text block's text; a block that lacks it is malformed (``""`` is a real, empty text)."""
    text = field_of(block, "text")
    if not isinstance(text, str):
        raise ValueError("a text block without text")
    return text


def from_anthropic_message(message: Any, *, model: str, json_mode: bool = False) -> ChatResponse:
    """An Anthropic ``Message`` (SDK object or dict) → `ChatResponse`.

    In JSON mode the ``json_output`` tool's input is the content and its ``tool_use`` stop
    counts as ``stop``; if the reply was cut at ``max_tokens`` that input is incomplete, so
    the content is ``""`` with finish reason ``length``.

    Raises:
        ValueError: the reply is not a Messages reply (no content list, a text block without
            text, a tool call without a name).
    """
    if isinstance(message, str) and looks_like_html(message):
        raise ValueError(
            "the provider (or a proxy in front of it) answered an HTML page, status 200"
        )
    if field_of(message, "type") not in ("message", None) or field_of(message, "role") is None:
        raise ValueError(f"not a Messages API reply: {str(message)[:120]!r}")
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    json_input: Any = None
    for block in _blocks(message):
        kind = field_of(block, "type")
        if (kept := thinking_block(block)) is not None:
            thinking.append(kept)
        elif kind == "text":
            texts.append(_text_of(block))
        elif kind == "tool_use" and json_mode and field_of(block, "name") == JSON_TOOL_NAME:
            json_input = field_of(block, "input")
        elif kind == "tool_use":
            arguments = field_of(block, "input") or {}
            call_id, name = field_of(block, "id"), field_of(block, "name")
            if not isinstance(name, str) or not name:
                raise ValueError("a tool_use block without a name")
            calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    stop_reason = field_of(message, "stop_reason")
    finish = to_finish_reason(stop_reason)
    content = "".join(texts)
    if json_input is not None:
        content = "" if finish == "length" else json.dumps(json_input, ensure_ascii=False)
        if stop_reason == "tool_use" and not calls:
            finish = "stop"
    return ChatResponse(
        content=content,
        model=field_of(message, "model") or model,
        provider=PROVIDER,
        finish_reason=finish,
        usage=to_usage(field_of(message, "usage")),
        refusal=refusal_message(field_of(message, "stop_details"))
        if stop_reason == "refusal"
        else None,
        tool_calls=with_thinking(calls, thinking),
        reasoning=reasoning_text(thinking),
        provider_data=thinking_data(calls, thinking),
        raw=message,
    )
