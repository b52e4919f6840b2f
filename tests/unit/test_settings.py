"""Settings: read on first use, parsed strictly, with errors that say the fix."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from persona_llm import ConfigurationError, get_chat_client, get_embedding_client, reset_clients
from persona_llm.settings import ServiceTarget, load_settings, parse_service


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("openai/gpt-4o-mini", ServiceTarget("openai", "gpt-4o-mini")),
        ("Azure/my-deployment", ServiceTarget("azure", "my-deployment")),
        ("anthropic/", ServiceTarget("anthropic", None)),
        ("fake/a/b", ServiceTarget("fake", "a/b")),
    ],
)
def test_parse_service(value: str, expected: ServiceTarget) -> None:
    assert parse_service(value) == expected


def test_service_without_slash_shows_the_expected_form() -> None:
    with pytest.raises(ConfigurationError, match=r"LLM_SERVICE='gpt-4o'.*provider/model"):
        parse_service("gpt-4o")


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown provider 'mistrall'.*openai, azure"):
        parse_service("mistrall/large")


def test_settings_are_read_at_first_use_not_import(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/first"):
        assert get_chat_client().model == "first"
    with env(LLM_SERVICE="fake/second"):
        assert get_chat_client().model == "first"  # cached until reset
        reset_clients()
        assert get_chat_client().model == "second"


def test_malformed_llm_service_fails_at_first_use(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="openai"), pytest.raises(ConfigurationError, match="provider/model"):
        get_chat_client()


def test_missing_key_names_the_variable(env) -> None:  # type: ignore[no-untyped-def]
    with (
        env(LLM_SERVICE="anthropic/claude-sonnet-4-5"),
        pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY is not set"),
    ):
        get_chat_client()


def test_missing_azure_endpoint_names_the_variable() -> None:
    settings = load_settings(azure_api_key="k" * 32)
    with pytest.raises(ConfigurationError, match="AZURE_API_BASE"):
        settings.provider_config("azure")


def test_invalid_number_is_a_configuration_error(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_TIMEOUT="soon"), pytest.raises(ConfigurationError, match="LLM_TIMEOUT"):
        load_settings()


def test_keys_are_secret_and_google_api_key_is_accepted(env) -> None:  # type: ignore[no-untyped-def]
    with env(GOOGLE_API_KEY="AIzaSyDUMMYDUMMYDUMMYDUMMYDUMMYDUMMY12"):
        settings = load_settings()
    assert isinstance(settings.gemini_api_key, SecretStr)
    assert "AIza" not in repr(settings)
    config = settings.provider_config("gemini")
    assert "AIza" not in repr(config)


def test_provider_named_without_model_uses_its_default() -> None:
    settings = load_settings(llm_service="anthropic/", anthropic_chat_model="claude-x")
    assert settings.chat_target == ServiceTarget("anthropic", "claude-x")


def test_embeddings_fall_back_to_openai_for_anthropic() -> None:
    settings = load_settings(llm_service="anthropic/claude-sonnet-4-5")
    assert settings.embedding_target == ServiceTarget("openai", "text-embedding-3-small")
    assert settings.embedding_is_fallback


def test_embeddings_follow_a_chat_provider_that_has_them() -> None:
    settings = load_settings(llm_service="gemini/gemini-2.5-flash")
    assert settings.embedding_target == ServiceTarget("gemini", "gemini-embedding-001")


def test_embedding_service_cannot_be_anthropic() -> None:
    settings = load_settings(embedding_service="anthropic/x")
    with pytest.raises(ConfigurationError, match="no embeddings API"):
        _ = settings.embedding_target


def test_timeouts_derive_connect_limit() -> None:
    config = load_settings(llm_timeout=30, openai_api_key="sk-test-123456").provider_config(
        "openai"
    )
    assert (config.timeout, config.connect_timeout) == (30, 10)


def test_embedding_client_uses_fake_embeddings(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/demo", FAKE_EMBEDDING_DIMENSIONS="16"):
        vectors = get_embedding_client().embeddings(["a", "b"])
    assert [len(v) for v in vectors] == [16, 16]


def test_a_missing_key_error_names_provider_and_model(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="openai/gpt-4o"), pytest.raises(ConfigurationError) as caught:
        get_chat_client()
    assert (caught.value.provider, caught.value.model) == ("openai", "gpt-4o")
    settings = load_settings(llm_service="fake/echo")
    with pytest.raises(ConfigurationError) as caught:
        settings.provider_config("anthropic")  # not LLM_SERVICE's provider: its default model
    assert (caught.value.provider, caught.value.model) == ("anthropic", "claude-sonnet-4-6")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(azure_api_key="k" * 32).provider_config("azure")
    assert caught.value.provider == "azure"


def test_configuration_and_request_errors_are_value_errors() -> None:
    from persona_llm import InvalidRequestError

    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidRequestError, ValueError)
    with pytest.raises(ValueError, match="not of the form provider/model"):
        parse_service("gpt-4o")


def test_every_provider_config_field_is_read_by_the_library() -> None:
    """A field nothing reads is a setting that silently does nothing (max_retries was one)."""
    import dataclasses
    import re
    from pathlib import Path

    from persona_llm.settings import ProviderConfig

    package = Path(__file__).resolve().parents[2] / "persona_llm"
    sources = "\n".join(
        path.read_text() for path in package.rglob("*.py") if path.name != "_services.py"
    )
    for field in dataclasses.fields(ProviderConfig):
        assert re.search(rf"\.{field.name}\b", sources), f"ProviderConfig.{field.name} is unread"
