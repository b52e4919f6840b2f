"""Pure mapping between our types and the OpenAI Chat Completions / Embeddings wire shapes.

Shared by the OpenAI and the Azure OpenAI adapters (Azure speaks the same bodies). Nothing here
does I/O or imports the SDK. Replies are read as JSON data: the adapters map the body of the
HTTP reply directly (`persona_llm.providers._raw`), and an SDK model passed in is read as its
dict (``to_dict()``), so there is one mapping for both and the tests need no network.

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
"tool", "tool_call_id", "content"}``. A reply with tool calls reports ``finish_reason=
"tool_calls"`` even when the API says ``stop`` (it does when ``tool_choice`` names a function),
so that the finish reason means the same on every provider.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from persona_llm.errors import InvalidRequestError, ProviderUnavailableError
from persona_llm.providers._errors import looks_like_html
from persona_llm.providers._parts import check_parts, has_parts
from persona_llm.providers._raw import field, wire_body
from persona_llm.providers.openai.parts import capabilities_for, part_rules, to_openai_parts
from persona_llm.providers.openai.reasoning import reasoning_effort, reasoning_of
from persona_llm.providers.openai.tools import (
    openai_tool_calls,
    to_openai_tool_choice,
    to_openai_tools,
    tool_calls_finish,
    wire_tool_call,
)
from persona_llm.types import (
    Capabilities,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    FinishReason,
    Usage,
    lookup_finish_reason,
)

__all__ = [
    "EMBEDDING_BATCH_LIMIT",
    "UnsupportedParams",
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

logger = logging.getLogger(__name__)

UnsupportedParams = Literal["error", "drop"]

EMBEDDING_BATCH_LIMIT = 2048
"""Most inputs OpenAI accepts in one embeddings request."""

UNSUPPORTED_PARAMS_OPTION = "unsupported_params"
"""Per-call option (never sent) overriding the adapter's `unsupported_params` policy."""

PARTS_ALL = Capabilities(vision=True, documents=True, audio_input=True)
"""What OpenAI's API takes at best; `capabilities_for` narrows it per model and server."""

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

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
