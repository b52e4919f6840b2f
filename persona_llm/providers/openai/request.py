"""Pure building of OpenAI Chat Completions / Embeddings requests from ours (no SDK, no I/O).

Shared by the OpenAI and the Azure OpenAI adapters (Azure speaks the same bodies), and by the
Responses transport for the policies below. Replies are read by
`persona_llm.providers.openai.mapping`, which re-exports everything here (where it used to live).

Parameters reasoning models do not accept (one policy, applied before the call):

* `max_tokens` is sent as ``max_completion_tokens`` to reasoning models (same meaning; they
  reject ``max_tokens``). Other models get ``max_tokens``, which every OpenAI-compatible server
  and every Azure API version understands.
* a non-default `temperature` (anything but 1) raises `InvalidRequestError` naming the
  parameter and the fix, or, with ``unsupported_params="drop"``, is left out with a WARNING.

Tools: each `Tool` is sent as ``{"type": "function", "function": {name, description,
parameters[, strict]}}`` (tools in ``options["tools"]``, such as built-in tools, are sent after
them); ``tool_choice`` ``auto``/``none``/``required`` as is, a tool name as ``{"type":
"function", "function": {"name": ...}}``. Assistant messages carry ``tool_calls`` in the wire
format (``content: null`` when there is no text) and ``tool`` messages become ``{"role":
"tool", "tool_call_id", "content"}``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from persona_llm.errors import InvalidRequestError
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers.openai.parts import capabilities_for, part_rules, to_openai_parts
from persona_llm.providers.openai.reasoning import reasoning_effort
from persona_llm.providers.openai.tools import (
    to_openai_tool_choice,
    to_openai_tools,
    wire_tool_call,
)
from persona_llm.types import Capabilities, ChatMessage, ChatRequest

__all__ = [
    "EMBEDDING_BATCH_LIMIT",
    "PARTS_ALL",
    "UNSUPPORTED_PARAMS_OPTION",
    "UnsupportedParams",
    "check_openai_parts",
    "embedding_params",
    "is_reasoning_model",
    "rejects_temperature",
    "to_openai_messages",
    "to_openai_params",
]

# The logger of the module this code was split from: users filter the dropped-temperature
# warning by that name.
logger = logging.getLogger("persona_llm.providers.openai.mapping")

UnsupportedParams = Literal["error", "drop"]

EMBEDDING_BATCH_LIMIT = 2048
"""Most inputs OpenAI accepts in one embeddings request."""

UNSUPPORTED_PARAMS_OPTION = "unsupported_params"
"""Per-call option (never sent) overriding the adapter's `unsupported_params` policy."""

PARTS_ALL = Capabilities(vision=True, documents=True, audio_input=True)
"""What OpenAI's API takes at best; `capabilities_for` narrows it per model and server."""

# o1, o1-mini, o3-pro, o4-mini, ...: but not "omni-moderation" (an "o" followed by a letter).
_O_SERIES = re.compile(r"o\d+(?:-.*)?")
# gpt-5, gpt-5-mini, gpt-5.1, gpt-5.2-pro; group 1 is the minor version, group 2 the suffix.
_GPT5 = re.compile(r"gpt-5(?:\.(\d+))?(.*)")


def _base_name(model: str) -> str:
    # Gateways and compatible servers prefix the vendor ("openai/o3"); the family is the last part.
    return model.rsplit("/", 1)[-1].strip().lower()


def is_reasoning_model(model: str) -> bool:
    """Whether `model` is an OpenAI reasoning model (o-series or gpt-5 family).

    These want ``max_completion_tokens`` instead of ``max_tokens``. ``gpt-5-chat*`` models are
    the non-reasoning chat variants and are excluded. For Azure the deployment name is tested,
    so a deployment named after its model is recognised.
    """
    name = _base_name(model)
    if _O_SERIES.fullmatch(name):
        return True
    match = _GPT5.fullmatch(name)
    return match is not None and not match.group(2).startswith("-chat")


def rejects_temperature(model: str, options: Mapping[str, Any]) -> bool:
    """Whether `model` rejects a temperature other than the default 1.

    o-series and gpt-5 (no minor version) always reason and accept only 1. gpt-5.1 and later
    reason only when asked (`reasoning_effort` other than ``"none"``, their default); their
    ``-pro`` variants always reason.
    """
    if not is_reasoning_model(model):
        return False
    match = _GPT5.fullmatch(_base_name(model))
    if match is None or match.group(1) in (None, "0") or "-pro" in match.group(2):
        return True
    return options.get("reasoning_effort") not in (None, "none")


def _content(message: ChatMessage) -> Any:
    content = message.content
    return content if type(content) is str else to_openai_parts(content)


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages in order, system messages included (OpenAI keeps them in ``messages``).

    Content with parts becomes a content array (`persona_llm.providers.openai.parts`);
    check it first with `check_openai_parts`.
    """
    result: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            result.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": _content(message)}
            )
        elif message.tool_calls:
            result.append(
                {
                    "role": "assistant",
                    # What the API itself returns for a turn without text.
                    "content": _content(message) or None,
                    "tool_calls": [wire_tool_call(call) for call in message.tool_calls],
                }
            )
        else:
            result.append({"role": message.role, "content": _content(message)})
    return result


def check_openai_parts(
    messages: Sequence[ChatMessage], provider: str, model: str, *, responses: bool = False
) -> None:
    """Refuse parts `provider`/`model` cannot take, before sending (`InvalidRequestError`).

    `responses`: for the Responses API, which takes document URLs but no audio.
    """
    if has_parts(messages):
        capabilities = capabilities_for(PARTS_ALL, provider, model)
        check_parts(messages, part_rules(capabilities, provider, responses=responses), model)


def _policy(
    default: UnsupportedParams, options: Mapping[str, Any], provider: str, model: str
) -> str:
    policy = options.get(UNSUPPORTED_PARAMS_OPTION, default)
    if policy not in ("error", "drop"):
        raise InvalidRequestError(
            f"{UNSUPPORTED_PARAMS_OPTION}={policy!r} is not valid; use 'error' or 'drop'",
            provider=provider,
            model=model,
        )
    return str(policy)


def to_openai_params(
    model: str,
    request: ChatRequest,
    *,
    unsupported_params: UnsupportedParams = "error",
    known_params: Collection[str] | None = None,
    provider: str = "openai",
) -> dict[str, Any]:
    """Keyword arguments for ``client.chat.completions.create``.

    Unset fields are not sent. `request.options` are passed through unchanged, after the mapped
    fields (so they win); names the SDK's ``create`` does not take (`known_params`) go into the
    JSON body through ``extra_body``, for OpenAI-compatible servers' own parameters.

    Raises:
        InvalidRequestError: a parameter the model rejects, under the ``"error"`` policy.
    """
    options = dict(request.options)
    if "stream" in options:
        raise InvalidRequestError(
            "stream is not a chat option: call stream() on the client instead",
            provider=provider,
            model=model,
        )
    policy = _policy(unsupported_params, options, provider, model)
    options.pop(UNSUPPORTED_PARAMS_OPTION, None)
    options.pop("openai_api", None)  # the transport choice, never sent
    check_openai_parts(request.messages, provider, model)
    effort = reasoning_effort(
        model,
        request.reasoning,
        reasoning_model=is_reasoning_model(model),
        policy=policy,
        provider=provider,
    )
    if effort is not None:
        options.setdefault("reasoning_effort", effort)
    params: dict[str, Any] = {"model": model, "messages": to_openai_messages(request.messages)}
    if request.max_tokens is not None:
        limit = "max_completion_tokens" if is_reasoning_model(model) else "max_tokens"
        params[limit] = request.max_tokens
    if request.temperature is not None:
        if request.temperature != 1 and rejects_temperature(model, options):
            _unsupported_temperature(provider, model, request.temperature, policy)
        else:
            params["temperature"] = request.temperature
    if request.stop is not None:
        params["stop"] = list(request.stop)
    if request.response_format is not None:
        # Our response_format is the OpenAI wire format already (json_object / json_schema).
        params["response_format"] = dict(request.response_format)
    if request.tools:
        # Tools given as an option (built-in ones) are added, not replaced.
        params["tools"] = [*to_openai_tools(request.tools), *(options.pop("tools", None) or [])]
    if request.tool_choice is not None:
        params["tool_choice"] = to_openai_tool_choice(request.tool_choice)
    return _merge_options(params, options, known_params)


def _unsupported_temperature(provider: str, model: str, temperature: float, policy: str) -> None:
    problem = (
        f"model {model!r} is a reasoning model and accepts only the default temperature (1), "
        f"not temperature={temperature}"
    )
    if policy == "drop":
        logger.warning("%s; temperature dropped (unsupported_params='drop')", problem)
        return
    raise InvalidRequestError(
        f"{problem}. Fix: leave temperature unset (None), or drop it with a warning by "
        "passing unsupported_params='drop' (setting LLM_UNSUPPORTED_PARAMS=drop)",
        provider=provider,
        model=model,
    )


def _merge_options(
    params: dict[str, Any], options: Mapping[str, Any], known: Collection[str] | None
) -> dict[str, Any]:
    extra = dict(options.get("extra_body") or {})
    for name, value in options.items():
        if name == "extra_body":
            continue
        if known is None or name in known:
            params[name] = value
        else:
            extra[name] = value
    if extra:
        params["extra_body"] = extra
    return params


def embedding_params(
    model: str,
    texts: Sequence[str],
    options: Mapping[str, Any],
    *,
    dimensions: int | None = None,
    known_params: Collection[str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.embeddings.create``.

    ``dimensions`` is sent only when configured or given in `options` (never a model guess);
    ``encoding_format`` is left to the SDK, which asks for base64 and decodes it.
    """
    params: dict[str, Any] = {"model": model, "input": list(texts)}
    if dimensions is not None:
        params["dimensions"] = dimensions
    return _merge_options(params, options, known_params)
