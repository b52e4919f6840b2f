"""OpenAI-compatible presets: LLM_SERVICE=ollama/... etc. resolve to the OpenAI adapter."""

from __future__ import annotations

import pytest

from persona_llm import ConfigurationError, get_chat_client, get_embedding_client
from persona_llm.settings import OPENAI_COMPATIBLE, load_settings
from persona_llm.testing.wire import fake_vector

HI = [{"role": "user", "content": "hello"}]


def test_ollama_needs_no_key_and_reports_itself(emu, env) -> None:  # type: ignore[no-untyped-def]
    emu.reset()
    with env(
        LLM_SERVICE="ollama/llama3.2",
        EMBEDDING_SERVICE="ollama/nomic-embed-text",
        OLLAMA_BASE_URL=emu.openai_base_url,
    ):
        reply = get_chat_client().chat(HI)
        vectors = get_embedding_client().embeddings(["a", "b"])
    assert (reply.provider, reply.model, reply.content) == ("ollama", "llama3.2", "echo: hello")
    chat = emu.requests_for("openai")[0]
    assert chat.json["model"] == "llama3.2"
    assert chat.headers["authorization"] == "Bearer ollama"
    assert vectors == [fake_vector("a"), fake_vector("b")]


def test_preset_embeddings_need_a_named_model(env) -> None:  # type: ignore[no-untyped-def]
    with (
        env(LLM_SERVICE="ollama/llama3.2"),
        pytest.raises(ConfigurationError, match="EMBEDDING_SERVICE=ollama/<model>"),
    ):
        get_embedding_client()


def test_hosted_preset_needs_its_key(env) -> None:  # type: ignore[no-untyped-def]
    with (
        env(LLM_SERVICE="groq/llama-3.3-70b-versatile"),
        pytest.raises(ConfigurationError, match="GROQ_API_KEY is not set"),
    ):
        get_chat_client()


def test_hosted_preset_sends_its_key(emu, env) -> None:  # type: ignore[no-untyped-def]
    emu.reset()
    with env(
        LLM_SERVICE="deepseek/deepseek-chat",
        DEEPSEEK_API_KEY="sk-deepseek-test-1234567",
        DEEPSEEK_BASE_URL=emu.openai_base_url,
    ):
        assert get_chat_client().chat(HI).provider == "deepseek"
    assert emu.last_request("openai").headers["authorization"] == "Bearer sk-deepseek-test-1234567"


@pytest.mark.parametrize("name", sorted(OPENAI_COMPATIBLE))
def test_every_preset_has_a_default_url(name: str) -> None:
    settings = load_settings(llm_service=f"{name}/m", **{f"{name}_api_key": "k" * 20})
    config = settings.provider_config(name)
    assert config.base_url == OPENAI_COMPATIBLE[name][0]
    assert settings.chat_target.provider == name
