"""The cache's stored entries (`persona_llm.state._entries`): a reply comes back as it was
stored, read by position or validated, and anything else in an entry's place is a miss."""

from __future__ import annotations

import json

import pytest

from persona_llm.state import _entries
from persona_llm.state.cache import ResponseCache
from persona_llm.state.guard import StoreGuard
from persona_llm.state.memory import MemoryStore
from persona_llm.types import ChatResponse, ToolCall, Usage

USAGE = Usage(
    prompt_tokens=11,
    completion_tokens=7,
    reasoning_tokens=2,
    cached_tokens=3,
    cache_write_tokens=1,
)
PLAIN = ChatResponse(
    content="Hello.",
    model="gpt-4o-mini",
    provider="openai",
    finish_reason="length",
    usage=USAGE,
    refusal="no",
    reasoning="thought",
    cost_usd=0.25,
    raw={"id": "x"},
)
RICH = PLAIN.model_copy(
    update={
        "tool_calls": [ToolCall(id="c1", name="f", arguments={"a": 1})],
        "parsed": {"k": [1, 2]},
        "provider_data": {"signature": "s"},
        "choices": [ChatResponse(content="other", model="m", provider="openai")],
    }
)


def stored(response: ChatResponse) -> ChatResponse | None:
    entry = _entries.decode(_entries.encode(_entries.reply_payload(response), "1", None), "1")
    assert entry is not None
    return _entries.to_reply(entry[0])


@pytest.mark.parametrize("response", [PLAIN, RICH, ChatResponse(model="m", provider="p")])
def test_a_reply_comes_back_as_stored_with_cached_set_and_no_cost(response: ChatResponse) -> None:
    found = stored(response)
    assert found is not None
    expected = response.model_copy(update={"cached": True, "cost_usd": 0.0, "raw": None})
    assert found == expected and found.raw is None
    assert found.model_dump() == expected.model_dump()
    assert found.usage == response.usage and found.provider_data == response.provider_data
    validated = ChatResponse.model_validate(
        {**response.model_dump(mode="json", exclude={"raw"}), "cached": True, "cost_usd": 0.0}
    )
    assert found.model_fields_set == validated.model_fields_set


def test_plain_replies_are_stored_by_position_and_others_as_objects() -> None:
    assert isinstance(_entries.reply_payload(PLAIN), list)
    assert isinstance(_entries.reply_payload(RICH), dict)


def test_every_reply_field_is_positional_or_forces_the_object_form() -> None:
    # A field added to ChatResponse must be stored: by position, or by making replies that
    # set it take the validated object form (reply_payload's conditions).
    other = {"tool_calls", "choices", "parsed", "provider_data", "cost_usd", "cached", "raw"}
    assert set(ChatResponse.model_fields) == set(_entries.POSITIONAL) | other
    order = [name for name in ChatResponse.model_fields if name in _entries.POSITIONAL]
    assert order == list(_entries.POSITIONAL)


def entry(*payload: object, fmt: object = _entries.FORMAT, version: str = "1") -> bytes:
    return json.dumps([fmt, version, None, list(payload)]).encode()


GOOD = ["hi", "m", "p", "stop", [1, 2, 3, 0, 0, 0], None, None]


def changed(position: int, value: object) -> bytes:
    values = list(GOOD)
    values[position] = value
    return entry(*values)


@pytest.mark.parametrize(
    "raw",
    [
        changed(0, 5),  # content not a string
        changed(1, None),
        changed(2, ["p"]),
        changed(3, "bogus"),  # not a finish reason
        changed(4, [1, 2, "3", 0, 0, 0]),
        changed(4, [1, 2, 3]),  # counts missing
        changed(4, [1, 2, 3, 0, 0, True]),
        changed(4, {"prompt_tokens": 1}),
        changed(5, 1),
        changed(6, {}),
        entry(*GOOD, "extra"),
        entry(*GOOD[:-1]),
        entry(*GOOD, version="0.0.1"),  # another library version
        entry(*GOOD, fmt=3),
        json.dumps([_entries.FORMAT, "1", "soon", GOOD]).encode(),  # expiry not a number
        json.dumps([_entries.FORMAT, "1", None]).encode(),
        json.dumps([_entries.FORMAT, "1", None, {"content": 5}]).encode(),  # fails validation
        json.dumps([_entries.FORMAT, "1", None, 7]).encode(),
        json.dumps({"f": 3, "v": "1", "e": None, "p": {"model": "m", "provider": "p"}}).encode(),
        entry(*GOOD)[:-3],  # truncated
        b"\xff\xfe not utf-8",
    ],
)
def test_a_corrupt_or_older_entry_is_a_miss_and_is_overwritten(raw: bytes) -> None:
    store = MemoryStore()
    cache = ResponseCache(store, StoreGuard("memory"), version="1")
    store.set_many({"k": raw}, ttl=None)
    assert cache.get("k") is None
    cache.put("k", PLAIN.model_copy(update={"refusal": None, "finish_reason": "stop"}))
    found = cache.get("k")
    assert found is not None and found.content == "Hello." and found.cached


def test_the_good_entry_of_those_tests_is_a_hit() -> None:
    store = MemoryStore()
    cache = ResponseCache(store, StoreGuard("memory"), version="1")
    store.set_many({"k": entry(*GOOD)}, ttl=None)
    found = cache.get("k")
    assert (
        found is not None
        and found.content == "hi"
        and found.usage == Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    )


def test_each_hit_on_a_positional_entry_is_a_reply_of_its_own() -> None:
    store = MemoryStore()
    cache = ResponseCache(store, StoreGuard("memory"), version="1")
    cache.put("k", PLAIN.model_copy(update={"refusal": None, "finish_reason": "stop"}))
    first, second = cache.get("k"), cache.get("k")
    assert first is not None and second is not None and first is not second
    first.content = "changed"
    first.provider_data["x"] = 1
    first.tool_calls.append(ToolCall(id="c", name="f", arguments={}))
    again = cache.get("k")
    assert again is not None and again.content == "Hello."
    assert again.provider_data == {} and again.tool_calls == []
