"""Structured output: JSON replies parsed, repaired, validated, and re-asked once.

A reply asked for in JSON mode goes through, in this order:

1. refusal check: `ChatResponse.refusal` or finish reason ``content_filter`` raise
   `ContentFilterError` (a refusal is not a parse problem, and asking again will not help);
2. extraction: the JSON value is found inside ```json fences or surrounding prose;
3. repair: small defects (trailing commas, single quotes, a missing bracket at the end) are
   fixed by the `json-repair` library, but only inside text that looks like a JSON object or
   array, and never for a reply cut off at the token limit (repair would silently drop the
   rest); text with no JSON in it is an error, never ``{}`` or ``[]``;
4. validation: against the pydantic model (``response_model``) or the JSON Schema of a
   ``json_schema`` response format (``json_object`` accepts any object or array);
5. re-ask: on a parse or validation failure the model is shown its reply and the problems and
   asked again, `max_reasks` times (default 1);
6. `ResponseParseError`, carrying ``raw_text`` (the last reply) and ``errors``.

The parsing and validation functions are pure; `complete` and `acomplete` are the only I/O,
mirrored for blocking and asyncio code: they take a ``send`` function, so the chat clients and
the workflows share them. The blocking ones are generated from the asyncio ones by
``scripts/unasync.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from persona_llm.errors import ContentFilterError, InvalidRequestError, ResponseParseError
from persona_llm.features.json_text import extract_json
from persona_llm.features.strict_schema import response_format_for, strict_schema
from persona_llm.messages import to_messages
from persona_llm.types import ChatMessage, ChatResponse, MessageInput

if TYPE_CHECKING:
    from persona_llm.features.client import SupportsAsyncChat, SupportsChat

__all__ = [
    "JSON_OBJECT",
    "OutputSpec",
    "OutputValidationError",
    "Validator",
    "accept",
    "achat_validated",
    "acomplete",
    "chat_validated",
    "check_refusal",
    "complete",
    "extract_json",
    "json_schema_validator",
    "model_validator",
    "output_spec",
    "reask_conversation",
    "response_format_for",
    "strict_schema",
]

REASK_PROMPT = """\
Your previous reply could not be used, because of these problems:
{errors}

Reply again with the corrected result only: one JSON value in the requested format, with no \
code fences, comments or text around it.
"""
"""The re-ask template: `{errors}` is filled with the problems found in the previous reply."""

logger = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Validator = Callable[[Any], T]
"""Turns parsed JSON into the wanted value, or raises `OutputValidationError`."""

JSON_OBJECT: Mapping[str, Any] = MappingProxyType({"type": "json_object"})
"""The ``response_format`` of plain JSON mode."""

_MAX_ERRORS_SHOWN = 20  # a re-ask prompt listing hundreds of errors helps no model


class OutputValidationError(ValueError):
    """Raised by a `Validator`: the reply is JSON, but not the JSON that was asked for."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class OutputSpec:
    """What a JSON-mode call sends (`response_format`) and how its reply is checked."""

    response_format: Mapping[str, Any]
    validate: Validator[Any]


# -- validators -----------------------------------------------------------------------------


def _any_json(data: Any) -> Any:
    return data


def model_validator(model: type[M]) -> Validator[M]:
    """A validator that builds `model` from the parsed JSON."""

    def validate(data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise OutputValidationError(
                f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
                for error in exc.errors()
            ) from None

    return validate


def json_schema_validator(schema: Mapping[str, Any]) -> Validator[Any]:
    """A validator that checks the parsed JSON against a JSON Schema.

    Raises:
        InvalidRequestError: `schema` itself is not a valid JSON Schema.
    """
    # Imported on first use: jsonschema takes longer to import than the rest of the client.
    import jsonschema

    plain = dict(schema)  # jsonschema wants a dict, not any mapping
    validator_class = jsonschema.validators.validator_for(plain)
    try:
        validator_class.check_schema(plain)
    except jsonschema.SchemaError as exc:
        raise InvalidRequestError(
            f"the output schema is not a valid JSON Schema: {exc.message}"
        ) from None
    validator = validator_class(plain)

    def validate(data: Any) -> Any:
        problems = sorted(validator.iter_errors(data), key=lambda e: e.json_path)
        if problems:
            raise OutputValidationError(f"{e.json_path}: {e.message}" for e in problems)
        return data

    return validate


def output_spec(
    response_format: Mapping[str, Any] | None, response_model: type[BaseModel] | None
) -> OutputSpec | None:
    """What to send and check for these chat arguments; None when JSON mode is off.

    Raises:
        InvalidRequestError: both arguments given, or `response_model` is not a model class.
    """
    if response_model is not None:
        if response_format is not None:
            raise InvalidRequestError("pass response_format or response_model, not both")
        if not (isinstance(response_model, type) and issubclass(response_model, BaseModel)):
            raise InvalidRequestError(
                f"response_model must be a pydantic model class, got {response_model!r}"
            )
        return OutputSpec(response_format_for(response_model), model_validator(response_model))
    kind = response_format.get("type") if response_format is not None else None
    if response_format is None or kind not in {"json_object", "json_schema"}:
        return None  # plain text; an unknown type is rejected by the client
    described = response_format.get("json_schema")
    schema = described.get("schema") if isinstance(described, Mapping) else None
    return OutputSpec(response_format, json_schema_validator(schema) if schema else _any_json)


# -- parsing --------------------------------------------------------------------------------


def check_refusal(response: ChatResponse) -> None:
    """Raise `ContentFilterError` when the model refused or the provider's filter stopped it."""
    if response.refusal or response.finish_reason == "content_filter":
        reason = (
            f"the model refused: {response.refusal}"
            if response.refusal
            else "the provider's content filter stopped the reply (finish_reason=content_filter)"
        )
        raise ContentFilterError(reason, provider=response.provider, model=response.model)


def _reply_json(response: ChatResponse) -> Any:
    if not response.content.strip() and response.tool_calls:
        # A provider that enforces the schema through a forced tool call (Anthropic) may
        # return the answer as the call's arguments rather than as text.
        return dict(response.tool_calls[0].arguments)
    truncated = response.finish_reason == "length"
    try:
        return extract_json(response.content, repair=not truncated)
    except ResponseParseError as exc:
        hint = " (the reply was cut off at max_tokens; raise max_tokens)" if truncated else ""
        raise ResponseParseError(
            exc.message + hint,
            raw_text=response.content,
            errors=[e + hint for e in exc.errors],
            provider=response.provider,
            model=response.model,
        ) from None


def accept(response: ChatResponse, validate: Validator[Any]) -> ChatResponse:
    """The response with `parsed` filled by `validate`.

    Raises:
        ContentFilterError: the reply is a refusal.
        ResponseParseError: the reply is not JSON, or `validate` rejected it.
    """
    check_refusal(response)
    data = response.parsed if response.parsed is not None else _reply_json(response)
    try:
        value = validate(data)
    except OutputValidationError as exc:
        shown = "; ".join(exc.errors[:3]) + ("; ..." if len(exc.errors) > 3 else "")
        raise ResponseParseError(
            f"the reply does not match the requested format: {shown}",
            raw_text=response.content,
            errors=exc.errors,
            provider=response.provider,
            model=response.model,
        ) from None
    return response.model_copy(update={"parsed": value})


def reask_conversation(
    conversation: tuple[ChatMessage, ...], error: ResponseParseError
) -> tuple[ChatMessage, ...]:
    """The conversation extended with the failed reply and a request to correct it."""
    problems = "\n".join(f"- {e}" for e in error.errors[:_MAX_ERRORS_SHOWN]) or f"- {error}"
    logger.info("re-asking the model after an unusable reply: %s", problems.replace("\n", " "))
    failed = (
        (ChatMessage(role="assistant", content=error.raw_text),) if error.raw_text.strip() else ()
    )
    request = ChatMessage(role="user", content=REASK_PROMPT.format(errors=problems))
    return (*conversation, *failed, request)


def _check_reasks(max_reasks: int) -> int:
    if max_reasks < 0:
        raise InvalidRequestError(f"max_reasks must be 0 or more, got {max_reasks!r}")
    return max_reasks


# -- the chat-parse-re-ask loop, blocking and asyncio ---------------------------------------

Send = Callable[[tuple[ChatMessage, ...]], ChatResponse]
AsyncSend = Callable[[tuple[ChatMessage, ...]], Awaitable[ChatResponse]]


# unasync: source structured
async def acomplete(
    send: AsyncSend,
    messages: Iterable[MessageInput],
    validate: Validator[Any],
    *,
    max_reasks: int = 1,
) -> ChatResponse:
    """Send, then parse and validate the reply, re-asking up to `max_reasks` times.

    `send` may itself raise `ResponseParseError` (a strict provider, or a nested JSON-mode
    call); that failure is re-asked like any other.
    """
    conversation = to_messages(messages)
    for _ in range(_check_reasks(max_reasks)):
        try:
            return accept(await send(conversation), validate)
        except ResponseParseError as exc:
            conversation = reask_conversation(conversation, exc)
    return accept(await send(conversation), validate)


async def achat_validated(
    client: SupportsAsyncChat,
    messages: Iterable[MessageInput],
    validate: Validator[T],
    *,
    max_reasks: int = 1,
    response_format: Mapping[str, Any] = JSON_OBJECT,
    **options: Any,
) -> T:
    """A JSON-mode chat whose parsed reply must pass `validate`; returns the validated value.

    For checks a pydantic model cannot express (lenient per-item parsing, a JSON Schema):
    a rejected reply is re-asked like a malformed one. `options` go to every ``chat`` call
    (``cache_prompt=True``, ``reasoning=...``).
    """

    async def send(conversation: tuple[ChatMessage, ...]) -> ChatResponse:
        return await client.chat(
            conversation, response_format=response_format, max_reasks=0, **options
        )

    response = await acomplete(send, messages, validate, max_reasks=max_reasks)
    value: T = response.parsed
    return value


# unasync: end
# unasync: generated structured (do not edit: scripts/unasync.py writes it)
def complete(
    send: Send,
    messages: Iterable[MessageInput],
    validate: Validator[Any],
    *,
    max_reasks: int = 1,
) -> ChatResponse:
    """Send, then parse and validate the reply, re-asking up to `max_reasks` times.

    `send` may itself raise `ResponseParseError` (a strict provider, or a nested JSON-mode
    call); that failure is re-asked like any other.
    """
    conversation = to_messages(messages)
    for _ in range(_check_reasks(max_reasks)):
        try:
            return accept(send(conversation), validate)
        except ResponseParseError as exc:
            conversation = reask_conversation(conversation, exc)
    return accept(send(conversation), validate)


def chat_validated(
    client: SupportsChat,
    messages: Iterable[MessageInput],
    validate: Validator[T],
    *,
    max_reasks: int = 1,
    response_format: Mapping[str, Any] = JSON_OBJECT,
    **options: Any,
) -> T:
    """A JSON-mode chat whose parsed reply must pass `validate`; returns the validated value.

    For checks a pydantic model cannot express (lenient per-item parsing, a JSON Schema):
    a rejected reply is re-asked like a malformed one. `options` go to every ``chat`` call
    (``cache_prompt=True``, ``reasoning=...``).
    """

    def send(conversation: tuple[ChatMessage, ...]) -> ChatResponse:
        return client.chat(conversation, response_format=response_format, max_reasks=0, **options)

    response = complete(send, messages, validate, max_reasks=max_reasks)
    value: T = response.parsed
    return value


# unasync: end
