"""Azure OpenAI's v1 API and Microsoft Entra ID, through the real SDK against the emulator.

A fake azure-identity ``TokenCredential`` (no network) hands out tokens; the tests check that
they reach the ``Authorization`` header and appear in no error, traceback or log.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from persona_llm.clients import AsyncChatClient, ChatClient, EmbeddingClient
from persona_llm.errors import AuthenticationError, ConfigurationError
from persona_llm.facades import get_chat_client, reset_clients
from persona_llm.features.tools import run_tools
from persona_llm.providers.azure import ENTRA_SCOPE, AzureAdapter, async_client, sync_client
from persona_llm.settings import ProviderConfig, load_settings
from persona_llm.testing import wire
from persona_llm.testing.credentials import ENTRA_TEST_TOKEN, FakeAzureCredential
from persona_llm.testing.emulator import ProviderEmulator, Reply

HI = [{"role": "user", "content": "hello"}]
KEY = "0123456789abcdef0123456789abcdef"
TOKEN = ENTRA_TEST_TOKEN


class FakeCredential(FakeAzureCredential):
    """The testing fake, failing with azure-identity's own exception when told to."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        if self.fail:
            self.scopes.append(scopes)
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
        return super().get_token(*scopes, **kwargs)


def config(emu: ProviderEmulator, **fields: Any) -> ProviderConfig:
    return emu.config_for("azure", **fields)


def adapter(cfg: ProviderConfig, credential: Any = None) -> AzureAdapter:
    return AzureAdapter(cfg, sync_client(cfg, credential), lambda: async_client(cfg, credential))


@pytest.fixture
def v1_entra(emu: ProviderEmulator) -> Iterator[tuple[AzureAdapter, FakeCredential]]:
    credential = FakeCredential()
    built = adapter(
        config(
            emu,
            api_key=None,
            auth="entra",
            base_url=emu.base_url + "/openai/v1/",
            api_version="v1",
            api="auto",
        ),
        credential,
    )
    yield built, credential
    built.close()
    built._client.close()


# -- the v1 API -----------------------------------------------------------------------------


def test_v1_with_a_key_uses_the_plain_openai_paths(emu: ProviderEmulator) -> None:
    built = adapter(config(emu, base_url=emu.base_url + "/openai/v1/", api_version="v1"))
    reply = ChatClient(built, "chat-prod").chat(HI)
    assert reply.content == "echo: hello" and reply.provider == "azure"
    sent = emu.last_request("azure")
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.query == {}  # no api-version on v1
    assert sent.json["model"] == "chat-prod"
    assert sent.headers["authorization"] == f"Bearer {built.config.api_key}"
    built._client.close()


def test_v1_entra_token_reaches_the_authorization_header(
    v1_entra: tuple[AzureAdapter, FakeCredential], emu: ProviderEmulator
) -> None:
    built, credential = v1_entra
    ChatClient(built, "chat-prod").chat(HI)
    sent = emu.last_request("azure")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in sent.headers
    assert credential.scopes and all(scopes == (ENTRA_SCOPE,) for scopes in credential.scopes)


async def test_v1_entra_asyncio(
    v1_entra: tuple[AzureAdapter, FakeCredential], emu: ProviderEmulator
) -> None:
    built, _ = v1_entra
    reply = await AsyncChatClient(built, "chat-prod").chat(HI)
    await built.aclose()
    assert reply.content == "echo: hello"
    assert emu.last_request("azure").headers["authorization"] == f"Bearer {TOKEN}"


def weather(city: str) -> str:
    """Weather of a city."""
    return "sunny"


def test_v1_reasoning_with_tools_uses_the_responses_api(
    v1_entra: tuple[AzureAdapter, FakeCredential], emu: ProviderEmulator
) -> None:
    built, _ = v1_entra
    emu.enqueue(
        "azure",
        Reply(
            wire.openai_response(
                None,
                model="o4-mini",
                reasoning=[wire.reasoning_item(encrypted_content="ENC")],
                tool_calls=[{"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}}],
            )
        ),
        Reply(wire.openai_response("Sunny in Oslo.", model="o4-mini")),
    )
    reply = run_tools(ChatClient(built, "o4-mini"), HI, [weather])
    assert reply.content == "Sunny in Oslo."
    first, second = emu.requests_for("azure")
    assert first.path == second.path == "/openai/v1/responses"
    assert second.json["input"][1]["encrypted_content"] == "ENC"
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


def test_v1_streaming_on_responses(
    v1_entra: tuple[AzureAdapter, FakeCredential], emu: ProviderEmulator
) -> None:
    built, _ = v1_entra
    chunks = list(ChatClient(built, "chat-prod").stream(HI, openai_api="responses"))
    assert "".join(c.delta for c in chunks) == "echo: hello"
    assert chunks[-1].usage is not None
    assert emu.last_request("azure").path == "/openai/v1/responses"


# -- the dated API with Entra ID --------------------------------------------------------------


def test_dated_version_with_entra_keeps_the_deployment_path(emu: ProviderEmulator) -> None:
    built = adapter(config(emu, api_key=None, auth="entra"), FakeCredential())
    ChatClient(built, "chat-prod").chat(HI)
    sent = emu.last_request("azure")
    assert sent.path == "/openai/deployments/chat-prod/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    built._client.close()


def test_dated_version_auto_stays_on_chat_completions(emu: ProviderEmulator) -> None:
    built = adapter(config(emu, api="auto"))
    ChatClient(built, "o4-mini").chat(HI, tools=[weather])
    assert emu.last_request("azure").path.endswith("/chat/completions")
    ChatClient(built, "o4-mini").chat(HI, openai_api="responses")
    assert emu.last_request("azure").path == "/openai/responses"
    built._client.close()


def test_a_static_token(emu: ProviderEmulator) -> None:
    built = adapter(config(emu, api_key=None, auth="token", ad_token=TOKEN))
    ChatClient(built, "chat-prod").chat(HI)
    assert emu.last_request("azure").headers["authorization"] == f"Bearer {TOKEN}"
    built._client.close()


# -- failures and secrecy -------------------------------------------------------------------


def test_no_credential_found_is_a_configuration_error_saying_what_to_do(
    emu: ProviderEmulator,
) -> None:
    built = adapter(config(emu, api_key=None, auth="entra"), FakeCredential(fail=True))
    with pytest.raises(ConfigurationError, match="az login") as caught:
        ChatClient(built, "chat-prod").chat(HI)
    assert "AZURE_API_KEY" in str(caught.value)
    assert emu.request_count == 0
    built._client.close()


def test_the_token_appears_in_no_error_traceback_or_log(emu: ProviderEmulator) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    echo = f"Token {TOKEN} is expired (Bearer {TOKEN})"
    emu.enqueue("azure", Reply(wire.openai_error(echo, code="401", type=None), status=401))
    built = adapter(config(emu, api_key=None, auth="entra"), FakeCredential())
    try:
        with pytest.raises(AuthenticationError) as caught:
            ChatClient(built, "chat-prod").chat(HI)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        built._client.close()
    printed = str(caught.value) + repr(caught.value)
    printed += "".join(traceback.format_exception(caught.value))
    assert TOKEN not in printed
    assert TOKEN[:40] not in stream.getvalue()
    assert TOKEN not in repr(built.config) and TOKEN not in repr(built)


# -- settings and the container -------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "version"),
    [
        ("https://res.openai.azure.com/openai/v1/", "2024-10-21"),
        ("https://res.openai.azure.com/openai/v1", "2024-10-21"),
        ("https://res.openai.azure.com", "v1"),
        ("https://res.openai.azure.com/openai", "v1"),
    ],
)
def test_v1_settings(base: str, version: str) -> None:
    settings = load_settings(azure_api_base=base, azure_api_version=version, azure_api_key=KEY)
    cfg = settings.provider_config("azure")
    assert (cfg.base_url, cfg.api_version) == ("https://res.openai.azure.com/openai/v1/", "v1")


def test_auth_settings() -> None:
    base = {"azure_api_base": "https://res.openai.azure.com"}
    assert load_settings(**base, azure_api_key=KEY).provider_config("azure").auth == "key"
    assert load_settings(**base).provider_config("azure").auth == "entra"
    entra = load_settings(**base, azure_api_key=KEY, azure_auth="entra").provider_config("azure")
    assert (entra.auth, entra.api_key) == ("entra", None)
    token = load_settings(**base, azure_ad_token=TOKEN).provider_config("azure")
    assert (token.auth, token.ad_token) == ("token", TOKEN)
    assert TOKEN in load_settings(**base, azure_ad_token=TOKEN).secret_values()
    with pytest.raises(ConfigurationError, match="AZURE_API_KEY is not set"):
        load_settings(**base, azure_auth="key").provider_config("azure")


def test_the_container_sends_a_static_token_on_v1(emu: ProviderEmulator, env: Any) -> None:
    with env(
        LLM_SERVICE="azure/chat-prod",
        AZURE_API_BASE=emu.base_url + "/openai/v1",
        AZURE_AD_TOKEN=TOKEN,
        LLM_MAX_RETRIES="0",
    ):
        reset_clients()
        assert get_chat_client().chat(HI).content == "echo: hello"
    sent = emu.last_request("azure")
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"


def test_without_the_extra_the_error_says_what_to_install() -> None:
    # A fresh interpreter where azure.identity cannot be imported, as without the extra.
    script = (
        "import sys; sys.modules['azure.identity'] = None\n"
        "from persona_llm.errors import ConfigurationError\n"
        "from persona_llm.providers.azure import entra_token_provider\n"
        "try:\n"
        "    entra_token_provider()\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'persona-llm[azure-identity]'" in done.stdout
    assert "AZURE_API_KEY" in done.stdout


def test_v1_embeddings(emu: ProviderEmulator) -> None:
    built = adapter(config(emu, base_url=emu.base_url + "/openai/v1/", api_version="v1"))
    vectors = EmbeddingClient(built, "embed-prod").embeddings(["alpha", "beta"])
    assert vectors == [wire.fake_vector("alpha"), wire.fake_vector("beta")]
    sent = emu.last_request("azure")
    assert (sent.path, sent.json["model"], sent.query) == (
        "/openai/v1/embeddings",
        "embed-prod",
        {},
    )
    built._client.close()
