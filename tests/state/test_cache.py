"""The response cache: hits, misses, what is stored, backends, expiry, bad entries."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from persona_llm.containers import Container
from persona_llm.errors import ConfigurationError, ProviderUnavailableError
from persona_llm.state.cache import ResponseCache, chat_key
from persona_llm.state.config import CacheConfig
from persona_llm.state.guard import StoreGuard
from persona_llm.state.memory import MemoryStore
from persona_llm.state.sqlite import SqliteCache
from persona_llm.testing.clock import FakeClock
from persona_llm.types import ChatMessage, ChatRequest, ChatResponse, Tool, ToolCall, Usage

Build = Callable[..., Container]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def cached(
    request: pytest.FixtureRequest, container_with: Build, prefix: str, tmp_path: Any
) -> Callable[..., Container]:
    """``cached(**settings)``: a fake-provider container with each cache backend in turn."""

    def build(**settings: Any) -> Container:
        values: dict[str, Any] = {"llm_service": "fake/echo", "llm_cache": "memory"}
        if request.param == "sqlite":
            values["llm_cache"] = f"sqlite:///{tmp_path}/cache.db"
        elif request.param == "redis":
            server = request.getfixturevalue("redis_server")
            values |= {"llm_cache": "redis", "llm_state": server.url, "llm_state_prefix": prefix}
        return container_with(**(values | settings))

    return build


def test_the_same_request_twice_makes_one_provider_call(cached: Build) -> None:
    container = cached()
    client = container.chat_client()
    first = client.chat(user("hello there"), temperature=0.1)
    second = client.chat(user("hello there"), temperature=0.1)
    assert len(container.fake.adapter().calls) == 1
    assert not first.cached and second.cached
    assert second.content == first.content and second.usage == first.usage
    assert second.cost_usd == 0.0
    total = container.usage_tracker().report().total
    assert (total.calls, total.cache_hits, total.cache_misses) == (2, 1, 1)


def test_a_changed_request_is_a_miss(cached: Build) -> None:
    container = cached()
    client = container.chat_client()
    client.chat(user("hello"))
    client.chat(user("hello"), max_tokens=50)
    client.chat(user("hello!"))
    assert len(container.fake.adapter().calls) == 3


def test_cache_false_skips_the_cache(cached: Build) -> None:
    container = cached()
    client = container.chat_client()
    client.chat(user("hello"))
    assert not client.chat(user("hello"), cache=False).cached
    assert len(container.fake.adapter().calls) == 2
    assert "cache" not in container.fake.adapter().last_request.options


def test_truncated_replies_and_errors_are_not_stored(cached: Build) -> None:
    container = cached()
    client = container.chat_client()
    client.chat(user("one two three four"), max_tokens=2)  # the fake truncates: length
    client.chat(user("one two three four"), max_tokens=2)
    assert len(container.fake.adapter().calls) == 2
    container.fake.adapter().enqueue(ProviderUnavailableError("down", provider="fake"), "fine")
    with pytest.raises(ProviderUnavailableError):
        client.chat(user("x"))
    assert client.chat(user("x")).content == "fine"
    assert client.chat(user("x")).cached  # the success after the error was stored


def test_incomplete_replies_are_stored_when_asked(cached: Build) -> None:
    container = cached(llm_cache_incomplete=True)
    client = container.chat_client()
    client.chat(user("one two three four"), max_tokens=2)
    assert client.chat(user("one two three four"), max_tokens=2).cached


async def test_asyncio_calls_share_the_cache(cached: Build) -> None:
    container = cached()
    container.chat_client().chat(user("hi"))
    assert (await container.async_chat_client().chat(user("hi"))).cached
    assert len(container.fake.adapter().calls) == 1


def test_embeddings_are_cached_per_text(cached: Build) -> None:
    container = cached()
    client = container.embedding_client()
    known = [f"text {i}" for i in range(9)]
    first = client.embeddings(known)
    mixed = client.embeddings([*known[:5], "new one", *known[5:]])
    assert mixed == [*first[:5], client.embeddings(["new one"])[0], *first[5:]]
    sent = [call for call in container.fake.adapter().calls if call.kind == "embeddings"]
    assert [len(call.texts or ()) for call in sent] == [9, 1]


async def test_asyncio_embeddings_are_cached_per_text(cached: Build) -> None:
    container = cached()
    container.embedding_client().embeddings(["a", "b"])
    await container.async_embedding_client().embeddings(["a", "b", "c"])
    sent = [call.texts for call in container.fake.adapter().calls if call.kind == "embeddings"]
    assert [list(t or ()) for t in sent] == [["a", "b"], ["c"]]


def test_response_models_with_other_schemas_do_not_share_entries(cached: Build) -> None:
    class A(BaseModel):
        name: str

    class B(BaseModel):
        title: str

    container = cached()
    container.fake.adapter().enqueue({"name": "x"}, {"title": "y"})
    client = container.chat_client()
    assert client.chat(user("q"), response_model=A).parsed == A(name="x")
    assert client.chat(user("q"), response_model=B).parsed == B(title="y")
    assert client.chat(user("q"), response_model=A).cached


def test_streams_are_not_cached(cached: Build) -> None:
    container = cached()
    client = container.chat_client()
    list(client.stream(user("hi")))
    list(client.stream(user("hi")))
    assert len(container.fake.adapter().calls) == 2


# -- the key --------------------------------------------------------------------------------

_messages = st.lists(
    st.builds(
        ChatMessage,
        role=st.sampled_from(["system", "user", "assistant"]),
        content=st.text(min_size=1, max_size=20),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
_tools = st.lists(
    st.builds(
        Tool,
        name=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        description=st.text(max_size=10),
    ),
    max_size=2,
    unique_by=lambda t: t.name,
).map(tuple)
_requests = st.builds(
    ChatRequest,
    messages=_messages,
    temperature=st.none() | st.floats(0, 2, allow_nan=False),
    max_tokens=st.none() | st.integers(1, 4000),
    response_format=st.none()
    | st.just({"type": "json_object"})
    | st.builds(lambda n: {"type": "json_schema", "json_schema": {"name": n}}, st.text(max_size=5)),
    stop=st.none() | st.lists(st.text(max_size=5), max_size=2).map(tuple),
    tools=_tools,
    options=st.dictionaries(
        st.sampled_from(["reasoning", "seed", "top_p", "user"]),
        st.integers() | st.text(max_size=5),
        max_size=2,
    ),
)


# No per-example deadline (hypothesis defaults to 200 ms): on a loaded CI machine an example
# can take longer, and speed is measured in benchmarks/, not here.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=_requests,
    second=_requests,
    models=st.tuples(st.sampled_from(["m1", "m2"]), st.sampled_from(["m1", "m2"])),
    providers=st.tuples(st.sampled_from(["openai", "gemini"]), st.sampled_from(["openai", "x"])),
)
def test_any_difference_in_the_request_changes_the_key(
    first: ChatRequest,
    second: ChatRequest,
    models: tuple[str, str],
    providers: tuple[str, str],
) -> None:
    same = (first.model_dump(), models[0], providers[0]) == (
        second.model_dump(),
        models[1],
        providers[1],
    )
    keys = chat_key(providers[0], models[0], first), chat_key(providers[1], models[1], second)
    assert (keys[0] == keys[1]) == same


_any_message = st.one_of(
    st.builds(  # every other field set or not, any text (quotes, controls, non-ASCII)
        ChatMessage,
        role=st.sampled_from(["system", "user", "assistant"]),
        content=st.text(min_size=1, max_size=12),
        provider_data=st.sampled_from([{}, {"gemini": {"signature": "s"}}]),
    ),
    st.builds(
        ChatMessage,
        role=st.just("tool"),
        content=st.text(max_size=8),
        tool_call_id=st.text(min_size=1, max_size=4),
        name=st.none() | st.text(max_size=4),
        is_error=st.booleans(),
    ),
    st.builds(
        ChatMessage,
        role=st.just("assistant"),
        content=st.just(""),
        tool_calls=st.lists(
            st.builds(ToolCall, id=st.text(min_size=1, max_size=3), name=st.just("f")),
            min_size=1,
            max_size=2,
        ).map(tuple),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=_requests.flatmap(
        lambda request: st.lists(_any_message, min_size=1, max_size=3).map(
            lambda messages: request.model_copy(update={"messages": tuple(messages)})
        )
    )
    | _requests,
    provider=st.sampled_from(["openai", "gémini", 'q"uote']),
)
def test_the_key_is_the_hash_of_the_whole_requests_json(
    request: ChatRequest, provider: str
) -> None:
    # chat_key writes the JSON text piece by piece: it is exactly json.dumps of the whole
    from persona_llm.state import _keys

    whole = [
        _keys.FORMAT,
        provider,
        "m",
        [_keys._message(m) for m in request.messages],
        _keys._values(request, "cache", "messages"),
    ]
    text = json.dumps(whole, sort_keys=True, separators=(",", ":"), default=_keys._plain)
    assert chat_key(provider, "m", request) == (
        "cache:chat:" + hashlib.blake2b(text.encode(), digest_size=32).hexdigest()
    )


def test_content_parts_are_keyed_by_their_content_hash() -> None:
    from persona_llm.content import ImagePart, TextPart

    def ask(data: bytes) -> ChatRequest:
        parts = [TextPart("what is this?"), ImagePart.from_bytes(data, "image/png")]
        return ChatRequest(messages=(ChatMessage(role="user", content=parts),))

    same = chat_key("p", "m", ask(b"\x89PNG one")), chat_key("p", "m", ask(b"\x89PNG one"))
    assert same[0] == same[1]
    assert chat_key("p", "m", ask(b"\x89PNG two")) != same[0]


def test_the_key_ignores_only_the_cache_switch() -> None:
    request = ChatRequest(messages=(ChatMessage(role="user", content="x"),))
    assert chat_key("p", "m", request) == chat_key(
        "p", "m", request.model_copy(update={"cache": False})
    )


# -- entries, expiry, backends ----------------------------------------------------------


def _reply(text: str = "hi") -> ChatResponse:
    return ChatResponse(
        content=text, model="m", provider="p", finish_reason="stop", usage=Usage(prompt_tokens=3)
    )


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = ResponseCache(MemoryStore(clock), StoreGuard("memory"), ttl=60, version="1")
    cache.put("k", _reply())
    clock.advance(59)
    assert cache.get("k") is not None
    clock.advance(2)
    assert cache.get("k") is None


def test_sqlite_entries_expire_after_the_ttl(tmp_path: Any) -> None:
    clock = FakeClock()
    cache = ResponseCache(SqliteCache(str(tmp_path / "c.db"), clock), StoreGuard("x"), ttl=60)
    cache.put("k", _reply())
    clock.advance(61)
    assert cache.get("k") is None


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"f": 1}', b'{"f": 1, "v": "0.0.1", "p": {}}', b'{"f": 1, "v": "1", "p": 3}'],
)
def test_corrupt_or_foreign_entries_are_misses_and_get_overwritten(raw: bytes) -> None:
    store = MemoryStore()
    cache = ResponseCache(store, StoreGuard("memory"), version="1")
    store.set_many({"k": raw}, ttl=None)
    assert cache.get("k") is None
    cache.put("k", _reply("fresh"))
    found = cache.get("k")
    assert found is not None and found.content == "fresh" and found.cached


def test_sqlite_under_eight_threads(tmp_path: Any) -> None:
    path = str(tmp_path / "shared.db")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        cache = ResponseCache(SqliteCache(path), StoreGuard("x"), version="1")
        try:
            for i in range(25):
                cache.put(f"{n}-{i}", _reply(f"{n}-{i}"))
                found = cache.get(f"{n}-{i}")
                assert found is not None and found.content == f"{n}-{i}"
                other = cache.get(f"{(n + 1) % 8}-{i}")
                assert other is None or other.content == f"{(n + 1) % 8}-{i}"
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    shared = ResponseCache(SqliteCache(path), StoreGuard("x"), version="1")
    assert all(shared.get(f"{n}-24") is not None for n in range(8))


def test_cache_settings() -> None:
    assert CacheConfig.parse("off", 1, False).kind == "off"
    assert CacheConfig.parse("sqlite:///tmp/x.db", 0, False).path == "tmp/x.db"
    assert CacheConfig.parse("redis", 5, True).ttl == 5
    with pytest.raises(ConfigurationError, match="LLM_CACHE"):
        CacheConfig.parse("disk", 1, False)


def test_each_hit_is_a_reply_of_its_own(cached: Build) -> None:
    # Hits on an entry seen before come from the decoded replies: a caller changing its
    # reply must not change what the next hit returns.
    client = cached().chat_client()
    client.chat(user("hello there"))
    first_hit = client.chat(user("hello there"))
    first_hit.content = "changed by the caller"
    second_hit = client.chat(user("hello there"))
    assert second_hit.cached and second_hit is not first_hit
    assert second_hit.content != "changed by the caller"
