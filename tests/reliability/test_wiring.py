"""The reliability settings, and what the container builds from them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from dependency_injector import providers

from persona_llm.containers import Container
from persona_llm.errors import ConfigurationError, RateLimitError
from persona_llm.providers.fake import FakeProvider
from persona_llm.reliability import (
    FallbackAdapter,
    PoolAdapter,
    PoolMember,
    ReliabilityConfig,
    RetryingAdapter,
)
from persona_llm.settings import ServiceTarget, load_settings, parse_service
from persona_llm.testing.clock import FakeClock

HELLO = [{"role": "user", "content": "hello"}]
KEYS = {"openai_api_key": "sk-test-openai-key-1", "anthropic_api_key": "sk-ant-test-key-1"}


# -- settings --------------------------------------------------------------------------------


def reliability(**settings: Any) -> ReliabilityConfig:
    """The reliability configuration the container builds from these settings."""
    return ReliabilityConfig.from_settings(load_settings(**settings))


def test_defaults() -> None:
    config = ReliabilityConfig.from_settings(load_settings())
    assert config == ReliabilityConfig()
    assert (config.max_retries, config.max_wait, config.deadline) == (2, 30.0, None)


def test_fallbacks_are_parsed_with_default_models() -> None:
    config = reliability(llm_fallbacks=" anthropic/claude-haiku-4-5 , gemini/ ,", **KEYS)
    assert config.fallbacks == (
        ServiceTarget("anthropic", "claude-haiku-4-5"),
        ServiceTarget("gemini", load_settings().gemini_chat_model),
    )


def test_the_pool_puts_llm_service_first_and_reads_weights() -> None:
    config = reliability(
        llm_service="azure/dep-eu",
        llm_pool="azure/dep-us*3, openai/gpt-4o-mini",
        llm_pool_strategy="random",
    )
    assert config.pool == (
        PoolMember(ServiceTarget("azure", "dep-eu"), 1),
        PoolMember(ServiceTarget("azure", "dep-us"), 3),
        PoolMember(ServiceTarget("openai", "gpt-4o-mini"), 1),
    )
    assert config.pool_strategy == "random"


def test_naming_llm_service_in_the_pool_sets_its_weight() -> None:
    config = load_settings(llm_service="azure/dep-eu", llm_pool="azure/dep-eu*2,azure/dep-us")
    assert [(m.target.model, m.weight) for m in ReliabilityConfig.from_settings(config).pool] == [
        ("dep-eu", 2),
        ("dep-us", 1),
    ]
    assert reliability(llm_service="azure/dep-eu", llm_pool="azure/dep-eu").pool == ()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"llm_pool": "azure/dep*0"}, "whole number >= 1"),
        ({"llm_pool": "azure/dep*two"}, "whole number >= 1"),
        ({"llm_pool": "azure/a,azure/a"}, "twice"),
        ({"llm_fallbacks": "claude-3"}, "provider/model"),
        ({"llm_fallbacks": "bedrock/claude"}, "unknown provider"),
        ({"llm_fallbacks": "azure/"}, "LLM_FALLBACKS=azure/<deployment>"),
        ({"llm_fallbacks": "azure@e-u/dep"}, "profile"),
        ({"llm_service": "azure@us/dep", "llm_pool": "openai/x"}, "only in LLM_FALLBACKS"),
    ],
)
def test_malformed_values_name_the_variable(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        reliability(**settings)


def test_invalid_numbers_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="LLM_DEADLINE"):
        load_settings(llm_deadline=0)
    with pytest.raises(ConfigurationError, match="LLM_POOL_STRATEGY"):
        load_settings(llm_pool_strategy="fastest")


def test_a_profile_reads_its_prefixed_variables_first(env: Any) -> None:
    assert parse_service("azure@us/dep", "LLM_POOL", profiles=True) == ServiceTarget(
        "azure", "dep", "us"
    )
    with env(
        AZURE_API_KEY="0123456789abcdef0123456789abcdef",
        AZURE_API_BASE="https://eu.example.com",
        US_AZURE_API_BASE="https://us.example.com",
        US_AZURE_CHAT_DEPLOYMENT="gpt4o-us",
    ):
        settings = load_settings(llm_service="azure/dep-eu", llm_pool="azure@us/")
        member = ReliabilityConfig.from_settings(settings).pool[1].target
        config = settings.target_config(member)
    assert member == ServiceTarget("azure", "gpt4o-us", "us")
    assert config.base_url == "https://us.example.com"
    assert config.api_key == "0123456789abcdef0123456789abcdef"  # not prefixed: the plain one
    assert settings.provider_config("azure").base_url == "https://eu.example.com"


def test_a_profile_missing_its_key_says_how_to_set_it() -> None:
    settings = load_settings(llm_fallbacks="openai@backup/gpt-4o")
    with pytest.raises(ConfigurationError, match=r"OPENAI_API_KEY is not set.*BACKUP_<VARIABLE>"):
        settings.target_config(ReliabilityConfig.from_settings(settings).fallbacks[0])


# -- the container -----------------------------------------------------------------------------


@pytest.fixture
def build(container_with: Callable[..., Container]) -> Callable[..., Container]:
    """A container from settings, its retry policy on a fake clock."""

    def make(**settings: Any) -> Container:
        container = container_with(**settings)
        clock = FakeClock()
        policy = clock.policy(max_retries=container.settings().llm_max_retries)
        container.retry_policy.override(providers.Object(policy))
        return container

    return make


def test_by_default_the_chat_service_is_retried(build: Callable[..., Container]) -> None:
    container = build(llm_service="openai/gpt-4o-mini", **KEYS)
    adapter = container.chat_adapter()
    assert isinstance(adapter, RetryingAdapter) and adapter.adapter is container.openai.adapter()
    assert container.chat_client().provider == "openai"
    assert isinstance(container.embedding_adapter(), RetryingAdapter)


def test_with_nothing_to_do_the_facades_get_the_plain_adapter(
    container_with: Callable[..., Container],
) -> None:
    container = container_with(llm_service="openai/gpt-4o-mini", llm_max_retries=0, **KEYS)
    assert container.chat_adapter() is container.openai.adapter()
    assert container.embedding_adapter() is container.openai.adapter()


def test_the_fake_provider_is_never_retried(container_with: Callable[..., Container]) -> None:
    container = container_with(llm_service="fake/x")
    container.fake.adapter.override(FakeProvider([RateLimitError("scripted", provider="fake")]))
    with pytest.raises(RateLimitError, match="scripted"):
        container.chat_client().chat(HELLO)


def test_fallbacks_use_the_overridable_container_adapters(build: Callable[..., Container]) -> None:
    container = build(llm_service="openai/gpt-x", llm_fallbacks="anthropic/claude-x", **KEYS)
    limited = RateLimitError("slow down", provider="openai")
    primary = FakeProvider([limited] * 3)
    primary.name = "openai"
    fallback = FakeProvider(["from anthropic"])
    fallback.name = "anthropic"
    container.openai.adapter.override(primary)
    container.anthropic.adapter.override(fallback)
    client = container.chat_client()
    reply = client.chat(HELLO)
    assert (reply.content, reply.provider, reply.model) == (
        "from anthropic",
        "anthropic",
        "claude-x",
    )
    assert (client.provider, client.model) == ("openai", "gpt-x")  # the client is the primary's
    assert len(primary.calls) == 3  # 1 + LLM_MAX_RETRIES before failing over
    assert isinstance(container.chat_adapter(), FallbackAdapter)


def test_pool_and_fallbacks_nest(build: Callable[..., Container]) -> None:
    container = build(
        llm_service="openai/gpt-a",
        llm_pool="openai/gpt-b*2",
        llm_fallbacks="fake/last",
        llm_circuit_failures=7,
        **KEYS,
    )
    adapter = container.chat_adapter()
    assert isinstance(adapter, FallbackAdapter)
    pool = adapter.targets[0].adapter
    assert isinstance(pool, PoolAdapter)
    assert [(t.model, t.weight) for t in pool.targets] == [(None, 1), ("gpt-b", 2)]
    assert all(isinstance(t.adapter, RetryingAdapter) for t in pool.targets)
    assert isinstance(adapter.targets[1].adapter, FakeProvider)  # never retried
    assert pool._breakers[0].threshold == 7


def test_reset_closes_the_clients_of_profile_targets(
    build: Callable[..., Container], env: Any
) -> None:
    with env(BACKUP_OPENAI_BASE_URL="http://127.0.0.1:9/v1"):
        container = build(llm_service="openai/gpt-a", llm_fallbacks="openai@backup/gpt-b", **KEYS)
        adapter = container.chat_adapter()
    owning = adapter.targets[1].adapter.adapter  # RetryingAdapter -> the profile's own adapter
    assert owning.adapter is not container.openai.adapter()
    assert str(owning.client.base_url) == "http://127.0.0.1:9/v1/"
    container.reset_singletons()
    assert owning.client.is_closed()


def test_importing_the_container_loads_no_tenacity() -> None:
    code = (
        "import sys, persona_llm.containers\n"
        "print('tenacity' in sys.modules, 'persona_llm.reliability' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_an_openai_compatible_fallback_gets_its_own_adapter(
    build: Callable[..., Container],
) -> None:
    container = build(llm_service="openai/gpt-a", llm_fallbacks="ollama/llama3.2", **KEYS)
    target = container.chat_adapter().targets[1]
    owning = target.adapter.adapter  # RetryingAdapter -> its own adapter and SDK client
    assert (target.model, owning.name) == ("llama3.2", "ollama")
    assert str(owning.client.base_url) == "http://localhost:11434/v1/"
