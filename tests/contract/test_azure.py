"""The Azure OpenAI adapter through the real SDK, over real HTTP, against the provider emulator."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import pytest

from persona_llm.containers import Container
from persona_llm.errors import (
    APIConnectionError,
    AuthenticationError,
    ContentFilterError,
    InvalidRequestError,
    LLMTimeoutError,
    NotFoundError,
    ProviderUnavailableError,
    RateLimitError,
)
from persona_llm.providers import build_adapter
from persona_llm.providers.azure import AzureAdapter
from persona_llm.settings import ProviderConfig
from persona_llm.testing import wire
from persona_llm.testing.emulator import Fault, ProviderEmulator, Reply
from persona_llm.types import ChatMessage, ChatRequest, Usage

KEY = "0123456789abcdef0123456789abcdef"  # Azure keys are 32 hex digits
API_VERSION = "2024-10-21"
DEPLOYMENT = "chat-prod"
EMBEDDING_DEPLOYMENT = "embed-prod"


def make_adapter(emu: ProviderEmulator, **overrides: Any) -> AzureAdapter:
    fields: dict[str, Any] = {
        "name": "azure",
        "api_key": KEY,
        "base_url": emu.azure_endpoint,
        "api_version": API_VERSION,
        "timeout": 5,
        "connect_timeout": 2,
        **overrides,
    }
    config = ProviderConfig(**fields)
    return cast(AzureAdapter, build_adapter(config))


@pytest.fixture(scope="module")
def shared_adapter(emulator: ProviderEmulator) -> Iterator[AzureAdapter]:
    # One adapter per module: building an SDK client costs ~50 ms (TLS context).
    adapter = make_adapter(emulator)
    yield adapter
    adapter.close()
    adapter._client.close()


@pytest.fixture
def adapter(shared_adapter: AzureAdapter, emu: ProviderEmulator) -> AzureAdapter:
    return shared_adapter


@pytest.fixture
async def aadapter(
    shared_adapter: AzureAdapter, emu: ProviderEmulator
) -> AsyncIterator[AzureAdapter]:
    yield shared_adapter
    await shared_adapter.aclose()  # inside the test's loop, so no connection outlives it


def ask(text: str = "Hi", **fields: Any) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage(role="user", content=text),), **fields)


def no_key_anywhere(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), str(getattr(current, "body", ""))]
        current = current.__cause__ or current.__context__
    assert not [text for text in texts if KEY in text]


# -- chat -------------------------------------------------------------------------------


def test_chat_goes_to_the_deployment(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    reply = adapter.chat(DEPLOYMENT, ask("Hello Azure"))
    assert reply.content == "echo: Hello Azure"
    assert reply.provider == "azure"
    assert reply.finish_reason == "stop"
    request = emu.last_request("azure")
    assert request.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert request.query == {"api-version": API_VERSION}
    assert request.model == DEPLOYMENT


async def test_chat_async(aadapter: AzureAdapter, emu: ProviderEmulator) -> None:
    reply = await aadapter.achat(DEPLOYMENT, ask("Hello async"))
    assert reply.content == "echo: Hello async"
    assert emu.last_request("azure").path.endswith(f"/{DEPLOYMENT}/chat/completions")


def test_system_prompt_and_turns_stay_in_messages(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    turns = (("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2"))
    messages = tuple(ChatMessage(role=r, content=c) for r, c in turns)  # type: ignore[arg-type]
    adapter.chat(DEPLOYMENT, ChatRequest(messages=messages))
    sent = emu.last_request("azure").json["messages"]
    assert [(m["role"], m["content"]) for m in sent] == list(turns)


def test_reply_with_filter_results_parses(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    body = wire.openai_chat("filtered fine", model="gpt-4o-2024-08-06", azure=True)
    assert body["prompt_filter_results"] and body["choices"][0]["content_filter_results"]
    emu.enqueue("azure", Reply(body))
    reply = adapter.chat(DEPLOYMENT, ask())
    assert reply.content == "filtered fine"
    assert reply.model == "gpt-4o-2024-08-06"
    assert reply.usage == Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)


def test_filtered_completion_is_a_content_filter_finish(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("azure", Reply(wire.openai_chat(None, finish_reason="content_filter", azure=True)))
    reply = adapter.chat(DEPLOYMENT, ask())
    assert reply.finish_reason == "content_filter"
    assert reply.content == ""


async def test_max_tokens_finish_is_length_async(
    aadapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("azure", Reply(wire.openai_chat("Once", finish_reason="length", azure=True)))
    reply = await aadapter.achat(DEPLOYMENT, ask(max_tokens=1))
    assert reply.finish_reason == "length"
    assert emu.last_request("azure").json["max_tokens"] == 1


def test_reasoning_deployment_gets_max_completion_tokens(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat("o4-mini", ask(max_tokens=200))
    body = emu.last_request("azure").json
    assert body["max_completion_tokens"] == 200
    assert "max_tokens" not in body
    with pytest.raises(InvalidRequestError, match="temperature"):
        adapter.chat("o4-mini", ask(temperature=0.3))


def test_json_mode_is_sent_natively(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("azure", Reply(wire.openai_chat('{"a": 1}', azure=True)))
    reply = adapter.chat(DEPLOYMENT, ask(response_format={"type": "json_object"}))
    assert emu.last_request("azure").json["response_format"] == {"type": "json_object"}
    assert reply.content == '{"a": 1}'


# -- embeddings -------------------------------------------------------------------------


def test_embeddings_by_deployment(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    texts = ["one", "two", "three"]
    assert adapter.embeddings(EMBEDDING_DEPLOYMENT, texts, {}) == [
        wire.fake_vector(t) for t in texts
    ]
    request = emu.last_request("azure")
    assert request.path == f"/openai/deployments/{EMBEDDING_DEPLOYMENT}/embeddings"
    assert request.json["encoding_format"] == "base64"
    assert "dimensions" not in request.json


async def test_embeddings_async(aadapter: AzureAdapter) -> None:
    texts = ["a", "b"]
    assert await aadapter.aembeddings(EMBEDDING_DEPLOYMENT, texts, {}) == [
        wire.fake_vector(t) for t in texts
    ]


# -- errors -----------------------------------------------------------------------------


def test_blocked_prompt_is_a_content_filter_error(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("azure", Reply(wire.azure_content_filter_error(), status=400))
    with pytest.raises(ContentFilterError) as caught:
        adapter.chat(DEPLOYMENT, ask("something bad"))
    assert isinstance(caught.value, InvalidRequestError)
    assert caught.value.status_code == 400
    assert (caught.value.provider, caught.value.model) == ("azure", DEPLOYMENT)
    assert "content management policy" in caught.value.message


async def test_blocked_prompt_async(aadapter: AzureAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("azure", Reply(wire.azure_content_filter_error(), status=400))
    with pytest.raises(ContentFilterError):
        await aadapter.achat(DEPLOYMENT, ask("something bad"))


def test_missing_deployment_without_content_type_is_not_found(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    body = {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created "
            "the deployment within the last 5 minutes, please wait a moment and try again.",
        }
    }
    emu.enqueue("azure", Reply(body, status=404, content_type=None))
    with pytest.raises(NotFoundError) as caught:
        adapter.chat("no-such-deployment", ask())
    assert caught.value.status_code == 404
    assert caught.value.model == "no-such-deployment"
    assert "deployment" in str(caught.value)


def test_401_with_a_string_code_and_no_type(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    body = {
        "error": {
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint. "
            f"Make sure to provide a valid key ({KEY}) for an active subscription.",
        }
    }
    emu.enqueue("azure", Reply(body, status=401))
    with pytest.raises(AuthenticationError) as caught:
        adapter.chat(DEPLOYMENT, ask())
    assert caught.value.status_code == 401
    no_key_anywhere(caught.value)


async def test_401_async(aadapter: AzureAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("azure", Reply({"error": {"code": "401", "message": "Access denied"}}, status=401))
    with pytest.raises(AuthenticationError) as caught:
        await aadapter.aembeddings(EMBEDDING_DEPLOYMENT, ["a"], {})
    no_key_anywhere(caught.value)


def test_rate_limit_with_retry_after(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    body = {
        "error": {
            "code": "429",
            "message": "Requests to the ChatCompletions_Create Operation have exceeded the token "
            "rate limit. Please retry after 3 seconds.",
        }
    }
    emu.enqueue("azure", Reply(body, status=429, headers={"retry-after": "3"}))
    with pytest.raises(RateLimitError) as caught:
        adapter.chat(DEPLOYMENT, ask())
    assert caught.value.retry_after == 3.0


def test_gateway_html_page(adapter: AzureAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("azure", Fault(503, b"<html><body>Service Unavailable</body></html>", "text/html"))
    with pytest.raises(ProviderUnavailableError) as caught:
        adapter.chat(DEPLOYMENT, ask())
    assert caught.value.status_code == 503


def test_timeout(emu: ProviderEmulator) -> None:
    adapter = make_adapter(emu, timeout=0.2)
    emu.enqueue("azure", Reply(wire.openai_chat("late", azure=True), delay=1.5))
    with pytest.raises(LLMTimeoutError):
        adapter.chat(DEPLOYMENT, ask())
    adapter._client.close()


async def test_dropped_connection_async(aadapter: AzureAdapter, emu: ProviderEmulator) -> None:
    emu.enqueue("azure", Fault(drop_connection=True))
    with pytest.raises(APIConnectionError) as caught:
        await aadapter.achat(DEPLOYMENT, ask())
    no_key_anywhere(caught.value)


def test_key_is_the_api_key_header_never_the_url(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    adapter.chat(DEPLOYMENT, ask())
    adapter.embeddings(EMBEDDING_DEPLOYMENT, ["a"], {})
    for request in emu.requests_for("azure"):
        assert KEY not in request.path
        assert KEY not in str(request.query)
        assert request.headers["api-key"] == KEY
        assert "authorization" not in request.headers


# -- through the container --------------------------------------------------------------


@pytest.fixture
def container(emu: ProviderEmulator, container_with: Callable[..., Container]) -> Container:
    return container_with(
        llm_service=f"azure/{DEPLOYMENT}",
        embedding_service=f"azure/{EMBEDDING_DEPLOYMENT}",
        azure_api_key=KEY,
        azure_api_base=emu.azure_endpoint,
        azure_api_version=API_VERSION,
        llm_max_retries=0,
    )


def test_through_the_container(container: Container, emu: ProviderEmulator) -> None:
    client = container.chat_client()
    assert client.provider == "azure"
    reply = client.chat([{"role": "user", "content": "via container"}])
    assert reply.content == "echo: via container"
    assert emu.last_request("azure").path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    assert container.embedding_client().embeddings(["x"]) == [wire.fake_vector("x")]
    assert emu.last_request("azure").path.endswith(f"/{EMBEDDING_DEPLOYMENT}/embeddings")


# -- streaming --------------------------------------------------------------------------


def test_streamed_text_skips_the_opening_filter_chunk(
    adapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    chunks = list(adapter.stream(DEPLOYMENT, ask("stream on azure")))
    assert "".join(c.delta for c in chunks) == "echo: stream on azure"
    assert all(c.delta for c in chunks[:-1])
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    request = emu.last_request("azure")
    assert request.kind == "stream"
    assert request.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"


async def test_streamed_content_filter_finish_async(
    aadapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue(
        "azure", wire.openai_chunks(["Partial"], finish_reason="content_filter", azure=True)
    )
    chunks = [chunk async for chunk in aadapter.astream(DEPLOYMENT, ask())]
    assert "".join(c.delta for c in chunks) == "Partial"
    assert chunks[-1].finish_reason == "content_filter"


async def test_blocked_prompt_before_the_stream_async(
    aadapter: AzureAdapter, emu: ProviderEmulator
) -> None:
    emu.enqueue("azure", Reply(wire.azure_content_filter_error(), status=400))
    with pytest.raises(ContentFilterError):
        async for _ in aadapter.astream(DEPLOYMENT, ask("bad")):
            pass
