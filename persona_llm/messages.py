"""Messages as callers give them (`ChatMessage`s or plain dicts) turned into `ChatMessage`s,
and `filled`, the validation-free constructor the hot paths use for values already valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from persona_llm.types import ChatMessage, MessageInput

__all__ = ["built", "filled", "to_messages"]

_PLAIN_ROLES = frozenset({"system", "user", "assistant"})
_set_attribute = object.__setattr__
_new_object = object.__new__
M = TypeVar("M", bound=BaseModel)


def _slot(name: str) -> Callable[[Any, Any], None]:
    """The setter of one of `BaseModel`'s four slots: the slot's own descriptor, a third
    cheaper than ``object.__setattr__`` (which first checks it is not bypassing a class's
    own ``__setattr__``, walking the class's bases)."""
    descriptor = BaseModel.__dict__.get(name)
    setter = getattr(descriptor, "__set__", None)
    if setter is None:  # pragma: no cover  # a pydantic without these slots
        return lambda instance, value: _set_attribute(instance, name, value)
    return setter  # type: ignore[no-any-return]


_set_dict = _slot("__dict__")
_set_fields_set = _slot("__pydantic_fields_set__")
_set_extra = _slot("__pydantic_extra__")
_set_private = _slot("__pydantic_private__")


def filled(cls: type[M], fields: dict[str, Any], fields_set: set[str], like: Any = None) -> M:
    """A `cls` instance holding `fields` (every field of the model), built without
    validation as `BaseModel.model_construct` does, at a third of its cost.

    For hot paths only, with values that are already valid: `to_messages` for plain dict
    messages, `ObservedAdapter` for the priced copy of a reply. `like` lends its extra and
    private attributes (a copy); without it they are empty.
    """
    made = cls.__new__(cls)
    _set_dict(made, fields)
    _set_fields_set(made, fields_set)
    _set_extra(made, None if like is None else getattr(like, "__pydantic_extra__", None))
    _set_private(made, None if like is None else getattr(like, "__pydantic_private__", None))
    return made


T = TypeVar("T")


def built(cls: type[T], fields: dict[str, Any]) -> T:
    """A frozen dataclass `cls` holding `fields` (every field, in declaration order),
    without its ``__init__``, which assigns each field through ``object.__setattr__``: a
    fifteen-field record costs five times what this does. For hot paths only, with values
    of the right types (the dataclass checks none either), and a class without
    ``__slots__`` or ``__post_init__``."""
    instance = _new_object(cls)
    _set_attribute(instance, "__dict__", fields)
    return instance


def _plain_message(message: object) -> ChatMessage | None:
    """The `ChatMessage` of ``{"role": "system" | "user" | "assistant", "content": str}``
    built without running validation, or None for any other shape.

    Such a dict always validates, to exactly this; every call sends at least one, so it is
    `filled` directly. tests/unit/test_types.py checks it against `ChatMessage.model_validate`.
    """
    if type(message) is not dict or len(message) != 2:
        return None
    role, content = message.get("role"), message.get("content")
    if type(role) is not str or role not in _PLAIN_ROLES or type(content) is not str:
        return None
    made = _new_object(ChatMessage)  # `filled`, inline: this runs per message per call
    fields: dict[str, Any] = {
        "role": role,
        "content": content,
        "tool_calls": (),
        "tool_call_id": None,
        "name": None,
        "is_error": False,
        "provider_data": {},
    }
    _set_dict(made, fields)
    _set_fields_set(made, {"role", "content"})
    _set_extra(made, None)
    _set_private(made, None)
    return made


def to_messages(messages: Iterable[MessageInput]) -> tuple[ChatMessage, ...]:
    """Validate messages given as `ChatMessage`s or dicts.

    Raises:
        InvalidRequestError: the list is empty, or a message is malformed (unknown role, no
            content, a tool message without tool_call_id...); the message says the fix.
    """
    if type(messages) is list:
        # The common call, a list of plain dicts and `ChatMessage`s, checked in one pass
        # (every call runs this; a cache hit is mostly such steps). Anything else, a
        # subclass or a dict of another shape, takes the general path below.
        result: list[ChatMessage] = []
        for message in messages:
            plain = message if type(message) is ChatMessage else _plain_message(message)
            if plain is None:
                break
            result.append(plain)
        else:
            if result:
                return tuple(result)
    return _validated(messages)


def _validated(messages: Iterable[MessageInput]) -> tuple[ChatMessage, ...]:
    """`to_messages` for any input: each message validated, or the error that says why not."""
    from persona_llm.errors import InvalidRequestError

    if isinstance(messages, (str, bytes)):
        raise InvalidRequestError(
            "messages must be a list of messages, not a string: "
            'pass [{"role": "user", "content": "..."}]'
        )
    if isinstance(messages, (Mapping, ChatMessage)):
        raise InvalidRequestError(
            "messages must be a list of messages, and this is one message: wrap it in a "
            'list, [{"role": "user", "content": "..."}]'
        )
    if not isinstance(messages, Iterable):
        raise InvalidRequestError(
            f"messages must be a list of messages, got {type(messages).__name__}: "
            'pass [{"role": "user", "content": "..."}]'
        )
    result: list[ChatMessage] = []
    for index, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            result.append(message)
            continue
        plain = _plain_message(message)
        if plain is not None:
            result.append(plain)
            continue
        try:
            result.append(ChatMessage.model_validate(message))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'message'}: "
                + err["msg"].removeprefix("Value error, ")
                for err in exc.errors()
            )
            raise InvalidRequestError(
                f"messages[{index}] is not a valid chat message ({problems}); expected "
                "{'role': 'system' | 'user' | 'assistant', 'content': str or parts}, an assistant "
                "message with 'tool_calls', or {'role': 'tool', 'tool_call_id': str, "
                "'content': str}"
            ) from None
    if not result:
        raise InvalidRequestError(
            "messages is empty: pass at least one message, e.g. [{'role': 'user', 'content': 'Hi'}]"
        )
    return tuple(result)
