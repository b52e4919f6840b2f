"""Checks of what callers pass to ``chat()``, ``stream()`` and ``embeddings()``, before sending.

Every wrong argument is an `InvalidRequestError` naming the parameter and the fix, raised
before anything is sent (never a raw `TypeError` or pydantic error from deep in an SDK, never a
400 after a retry). The rule for keyword options, in one place:

* the named parameters of ``chat()`` (``temperature``, ``max_tokens``, ...) and the options in
  `COMMON_OPTIONS` (``top_p``, ``seed``, ...) mean the same on every provider and are mapped
  to each provider's own name;
* ``extra_body`` / ``extra_headers`` are the escape hatches: sent as they are, to whichever
  provider answers;
* anything specific to one provider goes in ``provider_options={"anthropic": {...}}`` and
  reaches only that provider (so a fallback to another provider never gets it);
* any other keyword is refused, with the closest known names ("did you mean ...?").

Valid calls pay for this only when they pass options: the checks are a few `isinstance`
tests and, with options, one set difference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from persona_llm.errors import InvalidRequestError
from persona_llm.types import REASONING_LEVELS, ChatMessage, ChatRequest

__all__ = [
    "COMMON_OPTIONS",
    "LIBRARY_OPTIONS",
    "PROVIDER_SPECIFIC",
    "check_chat_arguments",
    "check_message_text",
    "check_options",
    "check_texts",
    "options_for",
    "refuse_empty_text",
    "request_for",
    "sdk_options",
]

COMMON_OPTIONS: dict[str, str] = {
    "top_p": "nucleus sampling (OpenAI/Azure top_p, Anthropic top_p, Gemini top_p)",
    "seed": "best-effort determinism (OpenAI/Azure seed, Gemini seed; Anthropic has none)",
    "presence_penalty": "OpenAI/Azure and Gemini presence_penalty (Anthropic has none)",
    "frequency_penalty": "OpenAI/Azure and Gemini frequency_penalty (Anthropic has none)",
    "n": "several replies in reply.choices (OpenAI/Azure n, Gemini candidate_count)",
}
"""Options every provider understands (or refuses clearly): mapped to its own name."""

LIBRARY_OPTIONS: dict[str, str] = {
    "model": "the model of this call instead of the client's (priced and reported as such)",
    "extra_body": "fields merged into the request body as they are (escape hatch)",
    "extra_headers": "HTTP headers added to the request as they are (escape hatch)",
    "provider_options": "{'<provider>': {...}}: options sent only to that provider",
    "unsupported_params": "'error' or 'drop' for this call (LLM_UNSUPPORTED_PARAMS)",
    "openai_api": "'chat' or 'responses': the OpenAI transport for this call",
}
"""Options of the library itself (never sent as they are, except the escape hatches)."""

PROVIDER_SPECIFIC: dict[str, tuple[str, ...]] = {
    "thinking": ("anthropic",),
    "top_k": ("anthropic", "gemini"),
    "metadata": ("anthropic", "openai"),
    "reasoning_effort": ("openai", "azure"),
    "logprobs": ("openai", "azure", "gemini"),
    "top_logprobs": ("openai", "azure"),
    "logit_bias": ("openai", "azure"),
    "parallel_tool_calls": ("openai", "azure"),
    "service_tier": ("openai", "anthropic"),
    "prompt_cache_key": ("openai",),
    "reasoning_summary": ("openai",),
    "instructions": ("openai",),
    "include": ("openai",),
    "store": ("openai",),
    "user": ("openai", "azure"),
    "verbosity": ("openai",),
    "modalities": ("openai",),
    "web_search_options": ("openai",),
    "output_config": ("anthropic",),
    "container": ("anthropic",),
    "mcp_servers": ("anthropic",),
    "safety_settings": ("gemini",),
    "thinking_config": ("gemini",),
    "response_mime_type": ("gemini",),
    "cached_content": ("gemini",),
    "labels": ("gemini",),
    "candidate_count": ("gemini",),
}
"""Well-known provider-native options, for the message that says where they go."""


def _invalid(message: str, provider: str | None, model: str | None) -> InvalidRequestError:
    return InvalidRequestError(message, provider=provider, model=model)


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _number(name: str, value: Any, low: float, high: float, where: dict[str, Any]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"{name} must be a number, got {_type_name(value)} {value!r}", **where)
    if not math.isfinite(value) or not low <= value <= high:
        raise _invalid(
            f"{name} must be a finite number from {low:g} to {high:g}, got {value!r}", **where
        )


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


def _positive_int(name: str, value: Any, where: dict[str, Any], minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an integer, got {_type_name(value)} {value!r}", **where)
    if value < minimum:
        raise _invalid(f"{name} must be at least {minimum}, got {value!r}", **where)


def check_chat_arguments(
    provider: str | None,
    model: str | None,
    *,
    temperature: Any = None,
    max_tokens: Any = None,
    response_format: Any = None,
    stop: Any = None,
    max_reasks: Any = 1,
    response_model: Any = None,
    reasoning: Any = None,
    cache_prompt: Any = False,
) -> None:
    """Refuse a named ``chat()``/``stream()`` argument of the wrong type or range.

    Raises:
        InvalidRequestError: naming the parameter, what it must be and what it got.
    """
    where: dict[str, Any] = {"provider": provider, "model": model}
    if temperature is not None:
        _number("temperature", temperature, 0.0, 2.0, where)
    if max_tokens is not None:
        _positive_int("max_tokens", max_tokens, where)
    if response_format is not None and not isinstance(response_format, Mapping):
        raise _invalid(
            "response_format must be a dict such as {'type': 'json_object'}, got "
            f"{_type_name(response_format)}",
            **where,
        )
    if not (stop is None or isinstance(stop, str) or _strings(stop)):
        raise _invalid(
            f"stop must be a string or a list of strings, got {_type_name(stop)} {stop!r}",
            **where,
        )
    if max_reasks != 1:
        _positive_int("max_reasks", max_reasks, where, minimum=0)
    if reasoning is not None and reasoning not in REASONING_LEVELS:
        raise _invalid(
            f"reasoning must be one of {', '.join(map(repr, REASONING_LEVELS))} or None, "
            f"got {reasoning!r}",
            **where,
        )
    if not isinstance(cache_prompt, bool):
        raise _invalid(f"cache_prompt must be True or False, got {cache_prompt!r}", **where)
    if response_model is not None and not (
        isinstance(response_model, type) and hasattr(response_model, "model_validate")
    ):
        raise _invalid(
            "response_model must be a pydantic model class (class Answer(BaseModel): ...), "
            f"got {_type_name(response_model)}",
            **where,
        )


def _suggestion(name: str, known: Iterable[str]) -> str:
    import difflib  # only to suggest a name for a typo

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


def check_options(
    options: Mapping[str, Any],
    parameters: Collection[str],
    provider: str | None,
    model: str | None,
    providers: Collection[str],
) -> None:
    """Refuse an unknown keyword option, and check ``provider_options`` and `COMMON_OPTIONS`.

    Args:
        options: the keyword options of the call (not the named parameters).
        parameters: the named parameters of the method, for "did you mean" suggestions.
        providers: the provider names ``provider_options`` may be keyed by.

    Raises:
        InvalidRequestError: an unknown option (with the closest known names), a
            provider-specific one outside ``provider_options``, or a malformed value.
    """
    where: dict[str, Any] = {"provider": provider, "model": model}
    for name in options.keys() - COMMON_OPTIONS.keys() - LIBRARY_OPTIONS.keys():
        if name in PROVIDER_SPECIFIC:
            owners = PROVIDER_SPECIFIC[name]
            raise _invalid(
                f"`{name}` is specific to {' and '.join(owners)}: pass it as "
                f"provider_options={{{owners[0]!r}: {{{name!r}: ...}}}}, so that it reaches "
                f"only that provider (a fallback to another one would reject it)",
                **where,
            )
        known = [*parameters, *COMMON_OPTIONS, *LIBRARY_OPTIONS]
        raise _invalid(
            f"unknown keyword argument `{name}`{_suggestion(name, known)} Provider-specific "
            "options go in provider_options={'<provider>': {...}}; extra_body and "
            "extra_headers are sent as they are",
            **where,
        )
    if "n" in options:
        _positive_int("n", options["n"], where)
    if "top_p" in options:
        _number("top_p", options["top_p"], 0.0, 1.0, where)
    for name in ("presence_penalty", "frequency_penalty"):
        if name in options:
            _number(name, options[name], -2.0, 2.0, where)
    if "seed" in options and (
        isinstance(options["seed"], bool) or not isinstance(options["seed"], int)
    ):
        raise _invalid(f"seed must be an integer, got {_type_name(options['seed'])}", **where)
    for name in ("extra_body", "extra_headers"):
        if name in options and not isinstance(options[name], Mapping):
            raise _invalid(f"{name} must be a dict, got {_type_name(options[name])}", **where)
    if "provider_options" in options:
        _check_sections(options["provider_options"], providers, where)


def _check_sections(sections: Any, providers: Collection[str], where: dict[str, Any]) -> None:
    if not isinstance(sections, Mapping):
        raise _invalid(
            "provider_options must be a dict keyed by provider, e.g. "
            f"{{'anthropic': {{'thinking': ...}}}}, got {_type_name(sections)}",
            **where,
        )
    for key, section in sections.items():
        if key not in providers:
            raise _invalid(
                f"provider_options names an unknown provider {key!r}"
                f"{_suggestion(str(key), providers)} Providers: {', '.join(providers)}",
                **where,
            )
        if not isinstance(section, Mapping):
            raise _invalid(
                f"provider_options[{key!r}] must be a dict of options, got {_type_name(section)}",
                **where,
            )


def options_for(options: Mapping[str, Any], *sections: str) -> Mapping[str, Any]:
    """`options` as a provider should receive them: the ``provider_options`` sections it
    answers to merged in, in order (they win; Gemini on Vertex AI answers to ``gemini`` and
    then ``vertex``), the other providers' sections dropped."""
    if "provider_options" not in options:
        return options
    merged = {k: v for k, v in options.items() if k != "provider_options"}
    for section in sections:
        merged.update(options["provider_options"].get(section) or {})
    return merged


def request_for(request: ChatRequest, *sections: str) -> ChatRequest:
    """`request` as a provider answering to `sections` receives it (see `options_for`);
    itself when it has no ``provider_options``."""
    if "provider_options" not in request.options:
        return request
    return request.model_copy(update={"options": options_for(request.options, *sections)})


_LIBRARY_ONLY = frozenset({"unsupported_params", "openai_api"})


def sdk_options(
    options: Mapping[str, Any], provider: str, model: str | None, lacks: Collection[str] = ()
) -> dict[str, Any]:
    """The call's options for a provider's SDK: the library's own dropped, and the common
    options the provider `lacks` refused before sending (``n=1`` is simply dropped).

    Raises:
        InvalidRequestError: one of `lacks` was given.
    """
    result = {k: v for k, v in options.items() if k not in _LIBRARY_ONLY}
    if "n" in lacks and result.get("n") == 1:
        del result["n"]
    for name in lacks:
        if name in result:
            hint = "send several requests" if name == "n" else "leave it out for this provider"
            raise _invalid(
                f"{provider.capitalize()} has no `{name}` ({COMMON_OPTIONS[name]}): {hint}, "
                "or pass it in provider_options for the providers that have it",
                provider,
                model,
            )
    return result


def check_texts(texts: Any, invalid: Callable[[str], InvalidRequestError]) -> list[str]:
    """The texts of an ``embeddings()`` call as a list, each a string.

    Raises:
        InvalidRequestError: a single string, something that is not a list, a non-string item.
    """
    if isinstance(texts, str):
        raise invalid("embeddings() takes a list of texts, not a single string: pass [text]")
    if texts is None or isinstance(texts, (bytes, Mapping)) or not hasattr(texts, "__iter__"):
        raise invalid(f"texts must be a list of strings, got {_type_name(texts)}")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise invalid(f"texts[{index}] is {_type_name(text)}, not str")
    return items


_SURROGATE = re.compile("[\ud800-\udfff]")


def _texts(message: ChatMessage) -> Iterable[str]:
    if isinstance(message.content, str):
        yield message.content
        return
    for part in message.content:
        text = getattr(part, "text", None)
        if isinstance(text, str):
            yield text


def check_message_text(
    messages: Iterable[ChatMessage], provider: str | None, model: str | None
) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate, e.g. from a bad decode): it
    cannot be encoded as UTF-8, so no provider can receive it.

    ASCII text (the common case) is passed by one `str.isascii` check.

    Raises:
        InvalidRequestError: naming the message and the position of the bad character.
    """
    for index, message in enumerate(messages):
        content = message.content
        if type(content) is str and content.isascii():
            continue  # the common case, without a generator per message
        for text in _texts(message):
            if text.isascii():
                continue
            found = _SURROGATE.search(text)
            if found is not None:
                raise _invalid(
                    f"messages[{index}] has a lone surrogate (U+{ord(found.group()):04X}) at "
                    f"position {found.start() + 1}: it is not valid Unicode text and cannot be "
                    "sent; decode the text with errors='replace' (or fix its source)",
                    provider,
                    model,
                )


def refuse_empty_text(messages: Iterable[ChatMessage], provider: str, model: str) -> None:
    """Refuse a message whose text is empty or only whitespace, for providers that answer it
    with a 400 (Anthropic, Gemini). Assistant turns that carry tool calls and tool results
    are exempt: their text may be empty.

    Raises:
        InvalidRequestError: naming the message, before anything is sent.
    """
    for index, message in enumerate(messages):
        if message.role == "tool" or message.tool_calls:
            continue
        texts = list(_texts(message))
        if isinstance(message.content, tuple) and len(texts) < len(message.content):
            texts = [t for t in texts if t]  # parts besides text (an image) carry the turn
            if not texts:
                continue
        if all(not text or text.isspace() for text in texts):
            raise _invalid(
                f"messages[{index}] ({message.role}) has no text: "
                f"{provider.capitalize()} rejects empty text content with a 400; "
                "leave the message out or give it text",
                provider,
                model,
            )
