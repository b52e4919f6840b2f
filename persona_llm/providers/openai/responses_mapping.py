"""Pure mapping between our types and the OpenAI Responses API (``POST /v1/responses``).

The same `ChatRequest` in, the same `ChatResponse` out as the Chat Completions mapping
(`persona_llm.providers.openai.mapping`); nothing here does I/O or imports the SDK.

Request (``client.responses.create`` keyword arguments):

* messages become ``input`` items in order. **System messages stay input items** (``{"role":
  "system", ...}``), where they were, rather than being joined into ``instructions``: the
  Responses API accepts them there, their position relative to the other turns is kept (as on
  the Chat Completions path), and nothing depends on ``instructions``, which a stateless
  conversation would have to resend anyway. Pass ``instructions=`` as an option to use it.
* an assistant turn becomes its items: for each tool call, the reasoning items that preceded it
  (kept in ``ToolCall.provider_data["openai"]["reasoning"]``), the turn's text as an assistant
  message before the first call, then ``{"type": "function_call", "call_id", "name",
  "arguments"}``; a ``tool`` message is ``{"type": "function_call_output", "call_id", "output"}``.
* ``store: false`` always (stateless: any worker can continue any conversation; the caller's
  ``store=`` option wins) and ``include: ["reasoning.encrypted_content"]`` for reasoning models,
  so that reasoning items come back encrypted and can be sent back on the next turn.
* ``max_tokens`` is ``max_output_tokens``; the temperature rule of reasoning models is the
  Chat Completions one; ``response_format`` becomes ``text.format`` (``json_schema`` flattened to
  ``{"type": "json_schema", "name", "schema", "strict"}``); tools are flat ``{"type":
  "function", "name", "description", "parameters", "strict"}`` with ``strict: false`` unless the
  `Tool` says otherwise (the Responses API defaults to strict, which most schemas do not meet);
  ``reasoning_effort`` becomes ``reasoning.effort``. ``stop`` does not exist on this API and is
  refused before sending.

Replies are read by `persona_llm.providers.openai.responses_reply` (`from_responses`,
re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.providers.openai.parts import to_responses_content
from persona_llm.providers.openai.reasoning import reasoning_effort
from persona_llm.providers.openai.request import (
    UNSUPPORTED_PARAMS_OPTION,
    UnsupportedParams,
    _merge_options,
    _policy,
    _unsupported_temperature,
    check_openai_parts,
    is_reasoning_model,
    rejects_temperature,
)
from persona_llm.providers.openai.responses_reply import from_responses
from persona_llm.types import (
    TOOL_CHOICE_MODES,
    ChatMessage,
    ChatRequest,
    Tool,
    ToolCall,
)

__all__ = [
    "ENCRYPTED_REASONING",
    "from_responses",
    "to_responses_input",
    "to_responses_params",
    "to_responses_text_format",
    "to_responses_tool_choice",
    "to_responses_tools",
]

ENCRYPTED_REASONING = "reasoning.encrypted_content"
"""The ``include`` value that returns reasoning items a stateless caller can send back."""

API_OPTION = "openai_api"
"""Per-call option (never sent) choosing the transport: ``chat``, ``responses`` or ``auto``."""


# -- request ------------------------------------------------------------------------------


def _openai_data(holder: ToolCall | ChatMessage) -> Mapping[str, Any]:
    data = holder.provider_data.get("openai")
    return data if isinstance(data, Mapping) else {}


def _reasoning_items(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(item) for item in data.get("reasoning") or [] if isinstance(item, Mapping)]


def _function_call(call: ToolCall) -> dict[str, Any]:
    item = {
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": json.dumps(call.arguments, ensure_ascii=False),
    }
    # The output item's own id: the API pairs it with the reasoning item before it.
    if item_id := _openai_data(call).get("id"):
        item["id"] = item_id
    return item


def _text_item(message: ChatMessage, data: Mapping[str, Any]) -> dict[str, Any]:
    content = to_responses_content(message.content, "assistant")
    message_id = data.get("message_id")
    if not message_id:
        return {"role": "assistant", "content": content}
    if isinstance(content, str):
        content = [{"type": "output_text", "text": content, "annotations": []}]
    # As it was output, so that the reasoning item before it has its following item.
    return {"type": "message", "id": message_id, "role": "assistant", "content": content}


def _assistant_items(message: ChatMessage) -> list[dict[str, Any]]:
    """Reasoning, text and calls of an assistant turn, in the order the API produced them:
    the reasoning before the text and the text (with their ids), then each call's reasoning
    and the call."""
    data = _openai_data(message)
    items = _reasoning_items(data)
    if message.content or not message.tool_calls:
        items.append(_text_item(message, data))
    for call in message.tool_calls:
        items += _reasoning_items(_openai_data(call))
        items.append(_function_call(call))
    return items


def to_responses_input(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The ``input`` items of a conversation (system messages included, in place)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            output = {"call_id": message.tool_call_id, "output": message.text}
            items.append({"type": "function_call_output", **output})
        elif message.role == "assistant":
            items += _assistant_items(message)
        else:
            content = to_responses_content(message.content, message.role)
            items.append({"role": message.role, "content": content})
    return items


def to_responses_tools(tools: Iterable[Tool]) -> list[dict[str, Any]]:
    """Flat ``function`` tools (``strict: false`` unless the tool asks for strict mode)."""
    result: list[dict[str, Any]] = []
    for tool in tools:
        spec: dict[str, Any] = {"type": "function", "name": tool.name}
        if tool.description:
            spec["description"] = tool.description
        spec["parameters"] = tool.parameters
        spec["strict"] = bool(tool.strict)
        result.append(spec)
    return result


def to_responses_tool_choice(choice: str) -> str | dict[str, Any]:
    """``auto``/``none``/``required`` as they are; a tool name forces that function."""
    if choice in TOOL_CHOICE_MODES:
        return choice
    return {"type": "function", "name": choice}


def to_responses_text_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """``text.format`` of a Chat Completions ``response_format`` (json_schema flattened)."""
    kind = response_format.get("type")
    if kind != "json_schema":
        return {"type": kind}
    described = dict(response_format.get("json_schema") or {})
    return {"type": "json_schema", "name": described.pop("name", "response"), **described}


def _reasoning_option(options: dict[str, Any]) -> dict[str, Any] | None:
    reasoning = dict(options.pop("reasoning", None) or {})
    effort = options.pop("reasoning_effort", None)
    summary = options.pop("reasoning_summary", None)
    if effort is not None:
        reasoning.setdefault("effort", effort)
    if summary is not None:
        reasoning.setdefault("summary", summary)
    return reasoning or None


def to_responses_params(
    model: str,
    request: ChatRequest,
    *,
    unsupported_params: UnsupportedParams = "error",
    known_params: Collection[str] | None = None,
    provider: str = "openai",
) -> dict[str, Any]:
    """Keyword arguments for ``client.responses.create`` (see the module docstring).

    Raises:
        InvalidRequestError: ``stop`` (no such parameter on this API), ``stream`` as an option,
            or a parameter the model rejects under the ``"error"`` policy.
    """
    options = dict(request.options)
    options.pop(API_OPTION, None)
    where: dict[str, Any] = {"provider": provider, "model": model}
    if "stream" in options:
        raise InvalidRequestError(
            "stream is not a chat option: call stream() on the client instead", **where
        )
    if options.pop("n", 1) != 1:
        raise InvalidRequestError(
            "the Responses API returns one reply: n > 1 needs Chat Completions (openai_api='chat')",
            **where,
        )
    if request.stop is not None:
        raise InvalidRequestError(
            "stop sequences do not exist on the OpenAI Responses API. Fix: leave stop unset, or "
            "use Chat Completions for this call (OPENAI_API=chat, or the option "
            "openai_api='chat')",
            **where,
        )
    policy = _policy(unsupported_params, options, provider, model)
    options.pop(UNSUPPORTED_PARAMS_OPTION, None)
    check_openai_parts(request.messages, provider, model, responses=True)
    reasoning_model = is_reasoning_model(model)
    effort = reasoning_effort(
        model, request.reasoning, reasoning_model=reasoning_model, policy=policy, provider=provider
    )
    if effort is not None:
        options.setdefault("reasoning_effort", effort)
    params: dict[str, Any] = {
        "model": model,
        "input": to_responses_input(request.messages),
        "store": False,
    }
    if is_reasoning_model(model):
        params["include"] = [ENCRYPTED_REASONING]
    limit = options.pop("max_completion_tokens", request.max_tokens)
    if limit is not None:
        params["max_output_tokens"] = limit
    if request.temperature is not None:
        if request.temperature != 1 and rejects_temperature(model, _effort_view(options)):
            _unsupported_temperature(provider, model, request.temperature, policy)
        else:
            params["temperature"] = request.temperature
    if (reasoning := _reasoning_option(options)) is not None:
        params["reasoning"] = reasoning
    if request.response_format is not None:
        text = dict(options.pop("text", None) or {})
        params["text"] = {**text, "format": to_responses_text_format(request.response_format)}
    if request.tools:
        params["tools"] = [*to_responses_tools(request.tools), *(options.pop("tools", None) or [])]
    if request.tool_choice is not None:
        params["tool_choice"] = to_responses_tool_choice(request.tool_choice)
    return _merge_options(params, options, known_params)


def _effort_view(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as `rejects_temperature` reads them (``reasoning_effort``)."""
    reasoning = options.get("reasoning")
    effort = options.get("reasoning_effort")
    if effort is None and isinstance(reasoning, Mapping):
        effort = reasoning.get("effort")
    return {"reasoning_effort": effort}
