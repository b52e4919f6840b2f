"""``persona-llm providers`` and ``doctor`` show each provider's transport and auth, no secret."""

from __future__ import annotations

from typing import Any

from persona_llm.cli._endpoints import endpoint_summary
from persona_llm.settings import load_settings
from tests.unit.test_cli import run

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJl"


def test_endpoint_summaries() -> None:
    settings = load_settings(
        llm_service="openai/o3-pro",
        openai_api_key="sk-test-0123456789",
        azure_api_base="https://acme.openai.azure.com/openai/v1/",
        google_cloud_project="acme",
        google_cloud_location="us-central1",
    )
    assert endpoint_summary(settings, "openai") == "responses (auto), key"
    assert endpoint_summary(settings, "azure").startswith("v1, entra (DefaultAzureCredential)")
    assert endpoint_summary(settings, "vertex") == "vertex: project acme / us-central1, ADC"
    assert endpoint_summary(settings, "anthropic") == "-"
    chat = load_settings(openai_api_key="sk-x-0123456789", openai_api="chat")
    assert endpoint_summary(chat, "openai") == "chat, key"
    dated = load_settings(azure_api_base="https://a.openai.azure.com", azure_api_key="k" * 32)
    assert endpoint_summary(dated, "azure").startswith("api-version 2024-10-21, key, chat")


def test_providers_and_doctor_show_endpoints_without_the_token(env: Any) -> None:
    with env(
        LLM_SERVICE="azure/gpt-4o-prod",
        AZURE_API_BASE="https://acme.openai.azure.com",
        AZURE_API_VERSION="v1",
        AZURE_AD_TOKEN=TOKEN,
        GEMINI_VERTEX="true",
        GOOGLE_CLOUD_PROJECT="acme",
    ):
        status, out, _ = run("providers")
        assert status == 0
        assert "v1, entra (AZURE_AD_TOKEN)" in out
        assert "vertex: project acme / global, ADC" in out
        _, doctor, _ = run("doctor")
        assert "v1, entra (AZURE_AD_TOKEN)" in doctor
    assert TOKEN not in out + doctor and TOKEN[:20] not in out + doctor
