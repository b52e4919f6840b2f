"""The response cache's keys (`persona_llm.state.cache`): a hash of the whole request.

A chat key is the 256-bit BLAKE2b hash of the JSON text of ``[FORMAT, provider, model,
[message, ...], [option, ...]]``: each message's and the request's field values in their
class's order (content parts by their fingerprint, binary data by its hash, models by
their dump), so any difference in the request is another key; only the ``cache`` switch
is left out. An embedding key hashes ``[FORMAT, provider, model, options, text]``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any, get_args

from persona_llm.state import _entries
from persona_llm.types import ChatMessage, ChatRequest, Role

__all__ = ["FORMAT", "chat_key", "embedding_key"]

FORMAT = _entries.FORMAT  # in every key too: a new format starts from new keys


def _plain(value: Any) -> Any:
    """JSON stand-in for what json cannot encode: bytes by hash, models by their dump."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"sha256": hashlib.sha256(bytes(value)).hexdigest()}
    content_hash = getattr(value, "content_hash", None)
    if callable(content_hash):
        return {"content_hash": content_hash()}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    return repr(value)


# one encoder for every key: `json.dumps` with options builds a new one per call
_key_json = json.JSONEncoder(sort_keys=True, default=_plain, separators=(",", ":")).encode


def _key_chunks_of() -> Callable[[Any, int], Any] | None:
    """What `_key_json` runs, the C encoder, made once (`JSONEncoder.encode` makes one per
    call, and a dict to spot cycles): without that dict it keeps no state, so every thread
    shares it. A cyclic value makes it overflow the stack, not raise `ValueError`:
    `_key_text` then asks `_key_json`, which says so as before."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover  # CPython always has the C accelerator
        return None
    ascii_strings = json.encoder.encode_basestring_ascii
    encoder: Callable[[Any, int], Any] = make(
        None, _plain, ascii_strings, None, ":", ",", True, False, True
    )
    return encoder


_key_chunks = _key_chunks_of()


def _key_text(data: Any) -> str:
    """`_key_json(data)`, the same text, in two thirds of the time."""
    if _key_chunks is None:  # pragma: no cover
        return _key_json(data)
    try:
        return "".join(_key_chunks(data, 0))
    except RecursionError:  # a cycle (or a value nested a thousand deep): as before
        return _key_json(data)


def _hash(text: str) -> str:
    """The hex digest of a key's text: BLAKE2b, 256 bits (Python's own; OpenSSL's SHA-256
    of the same text costs twice as much, most of it setting up its context)."""
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


def _digest(kind: str, data: Any) -> str:
    return f"cache:{kind}:" + _hash(_key_json(data))


@functools.cache
def _names(model: Any, skip: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in model.model_fields if name not in skip)


def _values(model: Any, *skip: str) -> list[Any]:
    """A model's field values in the order its class declares them, unconverted and
    without their names: `json.dumps` turns nested models into their dump through `_plain`,
    so the key sees every field at a fraction of `model_dump`'s cost, and a list encodes in
    half the time of a dict (no key to sort and escape). The position names the field; a
    field added or moved changes every key (and `FORMAT` says so)."""
    data = model.__dict__
    kind: Any = type(model)
    return [data[name] for name in _names(kind, skip)]


# `_values` of the two models of every key, as one C call each (a tuple encodes as a list)
_message_values = operator.itemgetter(*ChatMessage.model_fields)
_request_values = operator.itemgetter(
    *(name for name in ChatRequest.model_fields if name not in ("cache", "messages"))
)


def _message(message: Any) -> Any:
    """A message for the key: content parts by their `fingerprint()` (a hash of what the part
    sends), so an image or a PDF costs one hash, not its bytes in the key's JSON."""
    content = message.content
    if isinstance(content, str):
        if type(message) is ChatMessage:
            return _message_values(message.__dict__)
        return _values(message)
    parts = [
        {"fingerprint": part.fingerprint()} if hasattr(part, "fingerprint") else part
        for part in content
    ]
    return [parts, _values(message, "content")]


_string = json.encoder.encode_basestring_ascii  # what the encoder writes for a str
_ROLES = {role: _string(role) for role in get_args(Role)}
# `_request_values` of a call that sets nothing
_NO_OPTIONS: tuple[Any, ...] = (None, None, None, None, (), None, {}, None, False)
_NO_OPTIONS_TEXT = _key_text(_NO_OPTIONS)


def _message_text(message: Any) -> str:
    """`_key_text` of a message's part of the key. A text message with nothing else set
    (nearly every message) is written directly: the same text, without the encoder's
    walk over its seven values."""
    if type(message) is ChatMessage:
        data = message.__dict__
        content, role, extra = data["content"], data["role"], data["provider_data"]
        if (
            type(content) is str
            and type(role) is str
            and data["tool_calls"] == ()
            and data["tool_call_id"] is None
            and data["name"] is None
            and data["is_error"] is False
            and type(extra) is dict
            and not extra
        ):
            role_text = _ROLES.get(role) or _string(role)
            return f"[{role_text},{_string(content)},[],null,null,false,{{}}]"
        if type(content) is str:
            return _key_text(_message_values(data))
    return _key_text(_message(message))


def chat_key(provider: str, model: str, request: ChatRequest) -> str:
    """The cache key of a chat request: the hash of the JSON text of ``[FORMAT, provider,
    model, [message, ...], [option, ...]]``, written piece by piece (a list's text is its
    items' texts joined by commas; tests/state/test_cache.py checks it against
    ``json.dumps`` of the whole)."""
    messages = ",".join([_message_text(m) for m in request.messages])
    if type(request) is ChatRequest:
        fields: Any = _request_values(request.__dict__)
        if fields == _NO_OPTIONS and fields[8] is False and type(fields[6]) is dict:
            options = _NO_OPTIONS_TEXT  # a call without options (the common one)
        else:
            options = _key_text(fields)
    else:
        options = _key_text(_values(request, "cache", "messages"))
    data = f"[{FORMAT},{_string(provider)},{_string(model)},[{messages}],{options}]"
    return "cache:chat:" + _hash(data)


def embedding_key(provider: str, model: str, options: Mapping[str, Any], text: str) -> str:
    """The cache key of one text's embedding."""
    return _digest("embedding", [FORMAT, provider, model, options, text])
