"""Bad input is refused before sending, as an `InvalidRequestError` that is not retried: a
lone surrogate in the text, a NaN, empty text where the provider answers it with a 400. Errors
raised while the SDK builds a request are never "malformed reply" provider failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from persona_llm import InvalidRequestError
from persona_llm.containers import Container
from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator
from persona_llm.types import ChatMessage, ChatRequest
from tests.security.test_keys import MODELS, settings_for

SURROGATE = "caf\udce9 au lait"  # bytes decoded with errors="surrogateescape"


def client_for(
    emu: ProviderEmulator, container_with: Callable[..., Container], provider: str
) -> Any:
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}",
        llm_max_retries=2,  # a misclassified error would be sent three times
        **settings_for(emu, provider, "sk-proj-Ab12Cd34Ef56Gh78"),
    )
    return container.chat_client()


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "call",
    [
        {"messages": [{"role": "user", "content": SURROGATE}]},
        {"messages": [{"role": "system", "content": "ok"}, {"role": "user", "content": SURROGATE}]},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": float("nan")},
        {"messages": [{"role": "user", "content": "hi"}], "top_p": float("inf")},
    ],
    ids=["surrogate", "surrogate-second", "nan-temperature", "inf-top-p"],
)
def test_unsendable_input_is_refused_before_sending(
    provider: str,
    call: dict[str, Any],
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
) -> None:
    client = client_for(emu, container_with, provider)
    options = dict(call)
    messages = options.pop("messages")
    for stream in (False, True):
        with pytest.raises(InvalidRequestError) as caught:
            if stream:
                list(client.stream(messages, **options))
            else:
                client.chat(messages, **options)
        assert caught.value.retryable is False
    assert emu.requests == []
    if not options:
        assert f"messages[{len(messages) - 1}]" in str(caught.value)
        assert "U+DCE9" in str(caught.value)


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_refused_where_the_provider_rejects_it(
    provider: str, text: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client = client_for(emu, container_with, provider)
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": text}]
    with pytest.raises(InvalidRequestError, match=r"messages\[1\] \(assistant\) has no text"):
        client.chat([*messages, {"role": "user", "content": "go on"}])
    assert emu.requests == []


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_empty_text_is_sent_where_the_provider_takes_it(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    client_for(emu, container_with, provider).chat([{"role": "user", "content": ""}])
    assert emu.requests[0].json["messages"] == [{"role": "user", "content": ""}]


@pytest.fixture(scope="module")
def adapters(emulator: ProviderEmulator) -> Iterator[dict[str, ProviderAdapter]]:
    built = {name: build_adapter(emulator.config_for(name)) for name in PROVIDERS}
    yield built
    for adapter in built.values():
        adapter.close()


# google-genai escapes a surrogate as \\udce9 and sends it (the API answers 400): only the
# clients' check, tested above, stops it there.
@pytest.mark.parametrize("provider", ["openai", "azure", "anthropic"])
def test_an_sdk_failing_to_encode_the_request_is_not_a_malformed_reply(
    provider: str, emu: ProviderEmulator, adapters: dict[str, ProviderAdapter]
) -> None:
    """Past the client's checks (an adapter called directly): the SDK's UnicodeEncodeError."""
    request = ChatRequest(messages=(ChatMessage(role="user", content=SURROGATE),))
    with pytest.raises(InvalidRequestError) as caught:
        adapters[provider].chat(MODELS[provider], request)
    assert caught.value.retryable is False
