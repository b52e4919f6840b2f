"""Gemini on Vertex AI through the real google-genai SDK (``vertexai=True``) against the
emulator's Vertex paths, with a fake ``google.auth`` credential (no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers as di
from pydantic import BaseModel

from persona_llm.cli._endpoints import endpoint_summary
from persona_llm.clients import AsyncChatClient, ChatClient, EmbeddingClient
from persona_llm.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
)
from persona_llm.features.tools import run_tools
from persona_llm.providers.gemini.adapter import GeminiAdapter, async_client, sync_client
from persona_llm.settings import load_settings
from persona_llm.testing import wire
from persona_llm.testing.credentials import FakeGoogleCredentials
from persona_llm.testing.emulator import ProviderEmulator, Reply

HI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
MODEL = "gemini-2.5-flash"
PREFIX = "/v1/projects/test-project/locations/us-central1/publishers/google/models/"


FakeCredentials = FakeGoogleCredentials


@pytest.fixture(scope="module")
def shared(emulator: ProviderEmulator) -> Iterator[GeminiAdapter]:
    config = emulator.config_for("vertex")
    credentials = FakeCredentials()
    adapter = GeminiAdapter(
        config, sync_client(config, credentials), lambda: async_client(config, credentials)
    )
    yield adapter
    adapter.close()
    adapter._client.close()


@pytest.fixture
def client(shared: GeminiAdapter, emu: ProviderEmulator) -> ChatClient:
    return ChatClient(shared, MODEL)


def test_chat_goes_to_the_vertex_path_with_the_bearer_token(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    reply = client.chat(HI)
    assert reply.content == "echo: hello"
    assert reply.provider == "gemini"
    sent = emu.last_request("gemini")
    assert sent.path == PREFIX + MODEL + ":generateContent"
    assert sent.headers["authorization"] == "Bearer ya29.fake-access-token-for-tests"
    assert "x-goog-api-key" not in sent.headers
    assert sent.json["systemInstruction"]["parts"][0]["text"] == "Be brief."


def test_streaming(client: ChatClient, emu: ProviderEmulator) -> None:
    chunks = list(client.stream(HI))
    assert "".join(c.delta for c in chunks) == "echo: hello"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    sent = emu.last_request("gemini")
    assert sent.path == PREFIX + MODEL + ":streamGenerateContent"
    assert sent.query == {"alt": "sse"}


async def test_asyncio(shared: GeminiAdapter, emu: ProviderEmulator) -> None:
    reply = await AsyncChatClient(shared, MODEL).chat(HI)
    await shared.aclose()
    assert reply.content == "echo: hello"
    assert emu.last_request("gemini").path.startswith(PREFIX)


def lookup(city: str) -> str:
    """Population of a city."""
    return "700000"


def test_tools(client: ChatClient, emu: ProviderEmulator) -> None:
    call = {"functionCall": {"name": "lookup", "args": {"city": "Oslo"}}}
    emu.enqueue("gemini", Reply(wire.gemini_response([call])), Reply(wire.gemini_response("700k")))
    reply = run_tools(client, HI, [lookup])
    assert reply.content == "700k"
    second = emu.requests_for("gemini")[1].json
    response_part = second["contents"][-1]["parts"][0]["functionResponse"]
    assert response_part["name"] == "lookup"


class City(BaseModel):
    name: str
    population: int


def test_json_schema(client: ChatClient, emu: ProviderEmulator) -> None:
    emu.enqueue(
        "gemini", Reply(wire.gemini_response(json.dumps({"name": "Oslo", "population": 1})))
    )
    reply = client.chat(HI, response_model=City)
    assert reply.parsed == City(name="Oslo", population=1)
    config = emu.last_request("gemini").json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["properties"]["population"]["type"] == "integer"


@pytest.mark.parametrize(
    ("model", "operation"),
    [("gemini-embedding-001", "batchEmbedContents"), ("text-embedding-005", "predict")],
)
def test_embeddings(
    shared: GeminiAdapter, emu: ProviderEmulator, model: str, operation: str
) -> None:
    vectors = EmbeddingClient(shared, model).embeddings(["alpha", "beta"])
    assert vectors == [wire.fake_vector("alpha"), wire.fake_vector("beta")]
    assert emu.last_request("gemini").path == PREFIX + f"{model}:{operation}"


def test_vertex_permission_denied_and_not_found(client: ChatClient, emu: ProviderEmulator) -> None:
    denied = wire.gemini_error(
        403,
        "Permission 'aiplatform.endpoints.predict' denied on resource "
        "'//aiplatform.googleapis.com/projects/test-project/locations/us-central1/publishers/"
        "google/models/gemini-2.5-flash' (or it may not exist).",
        "PERMISSION_DENIED",
        "IAM_PERMISSION_DENIED",
    )
    missing = wire.gemini_error(
        404,
        "Publisher Model `projects/test-project/locations/us-central1/publishers/google/models/"
        "gemini-9` was not found or your project does not have access to it.",
        "NOT_FOUND",
    )
    emu.enqueue("gemini", Reply(denied, status=403), Reply(missing, status=404))
    with pytest.raises(PermissionDeniedError, match=r"aiplatform\.endpoints\.predict") as denial:
        client.chat(HI)
    assert "roles/aiplatform.user" in str(denial.value)
    with pytest.raises(NotFoundError, match="was not found"):
        client.chat(HI)


# -- configuration --------------------------------------------------------------------------


def test_settings_for_vertex() -> None:
    settings = load_settings(
        llm_service="vertex/gemini-2.5-pro",
        google_cloud_project="acme-prod",
        google_cloud_location="europe-west4",
    )
    config = settings.provider_config("vertex")
    assert (config.vertex, config.project, config.location, config.auth) == (
        True,
        "acme-prod",
        "europe-west4",
        "adc",
    )
    assert settings.chat_target.model == "gemini-2.5-pro"
    assert endpoint_summary(settings, "vertex") == "vertex: project acme-prod / europe-west4, ADC"
    switched = load_settings(gemini_vertex=True, google_cloud_project="p").provider_config("gemini")
    assert switched.vertex and switched.api_key is None and switched.location == "global"


def test_no_credentials_is_a_configuration_error(env: Any, tmp_path: Path) -> None:
    # An empty gcloud config directory, no credentials file, no metadata server probe.
    with env(
        CLOUDSDK_CONFIG=str(tmp_path), GOOGLE_APPLICATION_CREDENTIALS=None, NO_GCE_CHECK="true"
    ):
        config = load_settings(google_cloud_project="p").provider_config("vertex")
        with pytest.raises(ConfigurationError, match="application-default login"):
            sync_client(config)


def test_an_unreadable_credentials_file_is_a_configuration_error(tmp_path: Path) -> None:
    config = load_settings(
        google_cloud_project="p", google_application_credentials=str(tmp_path / "missing.json")
    ).provider_config("vertex")
    assert config.auth == "file"
    with pytest.raises(ConfigurationError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        sync_client(config)


def test_no_project_is_a_configuration_error(emu: ProviderEmulator) -> None:
    config = emu.config_for("vertex", project=None)
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        sync_client(config, FakeCredentials())


class RefusedCredentials(FakeCredentials):
    """Credentials whose token has expired and cannot be refreshed."""

    def __init__(self) -> None:
        super().__init__()
        self.expired = True

    def refresh(self, request: Any) -> None:
        from google.auth.exceptions import RefreshError

        raise RefreshError("invalid_grant: Token has been expired or revoked.")


def test_credentials_that_cannot_refresh_are_an_authentication_error(
    emu: ProviderEmulator,
) -> None:
    config = emu.config_for("vertex")
    adapter = GeminiAdapter(config, sync_client(config, RefusedCredentials()), lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(AuthenticationError, match="application-default login"):
        ChatClient(adapter, MODEL).chat(HI)
    assert emu.request_count == 0
    adapter._client.close()


def test_unauthenticated_says_to_check_the_credentials(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    body = wire.gemini_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        "UNAUTHENTICATED",
    )
    emu.enqueue("gemini", Reply(body, status=401))
    with pytest.raises(AuthenticationError, match="GOOGLE_APPLICATION_CREDENTIALS") as caught:
        client.chat(HI)
    assert "API key" not in str(caught.value)


def test_the_container_serves_vertex_and_gemini_vertex(
    emu: ProviderEmulator, container_with: Any
) -> None:
    where = {
        "google_cloud_project": "test-project",
        "google_cloud_location": "us-central1",
        "gemini_base_url": emu.gemini_base_url,
        "llm_max_retries": 0,
    }
    built = container_with(
        llm_service="vertex/gemini-2.5-flash",
        embedding_service="vertex/gemini-embedding-001",
        **where,
    )
    config = built.settings().provider_config("vertex")
    built.vertex.sdk.override(di.Object(sync_client(config, FakeCredentials())))
    assert built.chat_client().chat(HI).content == "echo: hello"
    assert emu.last_request("gemini").path == PREFIX + "gemini-2.5-flash:generateContent"
    assert len(built.embedding_client().embeddings(["a", "b"])) == 2
    assert emu.last_request("gemini").path == PREFIX + "gemini-embedding-001:batchEmbedContents"
    built.reset_singletons()
    switched = container_with(llm_service="gemini/gemini-2.5-pro", gemini_vertex=True, **where)
    config = switched.settings().provider_config("gemini")
    switched.gemini.sdk.override(di.Object(sync_client(config, FakeCredentials())))
    switched.chat_client().chat(HI)
    assert emu.last_request("gemini").path == PREFIX + "gemini-2.5-pro:generateContent"


def test_provider_options_reach_vertex_under_gemini_and_vertex(
    client: ChatClient, emu: ProviderEmulator
) -> None:
    """Vertex AI is Gemini behind another endpoint: both sections reach it, vertex's last."""
    client.chat(
        HI,
        provider_options={
            "gemini": {"top_k": 3, "seed": 1},
            "vertex": {"seed": 7},
            "anthropic": {"top_k": 99},
        },
    )
    config = emu.last_request("gemini").json["generationConfig"]
    assert (config["topK"], config["seed"]) == (3, 7)
