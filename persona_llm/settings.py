"""Settings: the only place that reads the environment.

`Settings` is read by the container on first use and again after `reset_clients()`, never at
import. Adapters never see `Settings`; they receive a `ProviderConfig` of plain values built
by `Settings.provider_config` (`persona_llm._provider_configs`), which is also where a missing
key becomes a `ConfigurationError` that names the variable to set.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from persona_llm._provider_configs import ProviderConfigs
from persona_llm._secrets import first_bad_secret, secret_values, settings_problem
from persona_llm._services import (
    EMBEDDING_PROVIDERS,
    OPENAI_COMPATIBLE,
    PROVIDERS,
    ProviderConfig,
    ServiceTarget,
    parse_service,
    routed_embedding_service,
)
from persona_llm.errors import ConfigurationError

__all__ = [
    "EMBEDDING_PROVIDERS",
    "OPENAI_COMPATIBLE",
    "PROVIDERS",
    "ProviderConfig",
    "ServiceTarget",
    "Settings",
    "load_settings",
    "parse_service",
]


ApiChoice = Literal["chat", "responses", "auto"]
"""The OpenAI transport setting (`OPENAI_API`, `AZURE_OPENAI_API`)."""


def _secret(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class Settings(BaseSettings, ProviderConfigs):
    """All configuration, from environment variables (and a ``.env`` file if present)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        # A rejected value may be a key (or a URL with a password): never echo it.
        hide_input_in_errors=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, without the ``.env`` one when it read no variable.

        It has read its files when built; with none it would still go through every field (half
        the cost of reading the settings, in every cold start) to add nothing.
        """
        if not getattr(dotenv_settings, "env_vars", True):
            return init_settings, env_settings, file_secret_settings
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    llm_service: str = "openai/gpt-4o-mini"
    embedding_service: str | None = None
    embedding_dimensions: int | None = Field(default=None, gt=0)  # sent to every provider
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_connect_timeout: float | None = Field(default=None, gt=0)
    llm_stream_first_chunk_timeout: float | None = Field(default=None, gt=0)
    llm_stream_idle_timeout: float | None = Field(default=None, gt=0)
    llm_max_retries: int = Field(default=2, ge=0)

    openai_api_key: SecretStr | None = None
    openai_chat_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_embedding_dimensions: int | None = Field(default=None, gt=0)
    openai_base_url: str | None = None
    openai_api: ApiChoice = "auto"

    azure_api_key: SecretStr | None = None
    azure_api_base: str | None = None
    azure_api_version: str = "2024-10-21"
    azure_openai_api: ApiChoice = "auto"
    azure_auth: Literal["key", "entra"] | None = None
    azure_ad_token: SecretStr | None = None
    azure_chat_deployment: str | None = None
    azure_embedding_deployment: str | None = None

    anthropic_api_key: SecretStr | None = None
    anthropic_chat_model: str = "claude-sonnet-4-6"
    anthropic_base_url: str | None = None

    gemini_api_key: SecretStr | None = _secret("GEMINI_API_KEY", "GOOGLE_API_KEY")
    gemini_chat_model: str = "gemini-3.8-flash"
    gemini_embedding_model: str = "gemini-embedding-001"
    gemini_base_url: str | None = None
    gemini_vertex: bool = False

    # Gemini on Vertex AI (LLM_SERVICE=vertex/<model>, or GEMINI_VERTEX=true)
    google_cloud_project: str | None = None
    google_cloud_location: str | None = None
    google_application_credentials: str | None = None

    fake_embedding_dimensions: int = Field(default=8, gt=0)

    # OpenAI-compatible servers (see OPENAI_COMPATIBLE)
    ollama_api_key: SecretStr | None = None
    ollama_base_url: str | None = None
    vllm_api_key: SecretStr | None = None
    vllm_base_url: str | None = None
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str | None = None
    groq_api_key: SecretStr | None = None
    groq_base_url: str | None = None
    mistral_api_key: SecretStr | None = None
    mistral_base_url: str | None = None
    deepseek_api_key: SecretStr | None = None
    deepseek_base_url: str | None = None

    llm_unsupported_params: Literal["error", "drop"] = "error"
    llm_reasoning: Literal["none", "low", "medium", "high"] | None = None

    # Reliability (persona_llm.reliability): retries, fallbacks, the load-balancing pool
    llm_retry_initial_wait: float = Field(default=0.5, ge=0)
    llm_retry_max_wait: float = Field(default=30.0, ge=0)
    llm_deadline: float | None = Field(default=None, gt=0)
    llm_fallbacks: str = ""
    llm_pool: str = ""
    llm_pool_strategy: Literal["round_robin", "random"] = "round_robin"
    llm_circuit_failures: int = Field(default=5, ge=0)
    llm_circuit_cooldown: float = Field(default=30.0, ge=0)

    # Task routing (persona_llm.routing.routes)
    llm_routes: str = ""

    # Usage, cost and observability (persona_llm.usage.observed)
    llm_prices_file: str | None = None
    llm_prices: str | None = None
    llm_log_content: bool = False
    llm_otel: bool = True

    # Shared state (persona_llm.state): the store, rate limits, the response cache
    llm_state: str = "memory"
    llm_state_prefix: str = "persona-llm:"
    llm_state_timeout: float = Field(default=0.2, gt=0)
    llm_state_on_error: Literal["open", "closed"] = "open"
    llm_rate_limits: str = ""
    llm_rate_window: float = Field(default=60.0, gt=0)
    llm_cache: str = "off"
    llm_cache_ttl: float = Field(default=86400.0, ge=0)
    llm_cache_incomplete: bool = False
    llm_cache_local_ttl: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        """Refuse a key, token or URL password that cannot be sent in an HTTP header."""
        problem = first_bad_secret(dict(self))
        if problem:
            raise ValueError(problem)
        return self

    @property
    def chat_target(self) -> ServiceTarget:
        """`LLM_SERVICE` parsed, with the provider's default model filled in."""
        target = parse_service(self.llm_service)
        return ServiceTarget(target.provider, target.model or self._default_chat_model(target))

    def resolve_target(self, text: str, variable: str) -> ServiceTarget:
        """One chat target of LLM_FALLBACKS / LLM_POOL / LLM_ROUTES, its model filled in."""
        target = parse_service(text, variable, profiles=True)
        if target.model:
            return target
        settings = self._for_profile(target) if target.profile else self
        return ServiceTarget(
            target.provider, settings._default_chat_model(target, variable), target.profile
        )

    def target_config(self, target: ServiceTarget) -> ProviderConfig:
        """`ProviderConfig` of a target: its profile's variables first, then the plain ones."""
        if not target.profile:
            return self.provider_config(target.provider)
        try:
            return self._for_profile(target).provider_config(target.provider)
        except ConfigurationError as exc:
            prefix = f"{target.profile.upper()}_"
            raise ConfigurationError(
                f"{exc.message} (for {target}: {prefix}<VARIABLE> wins over <VARIABLE>)",
                provider=target.provider,
                model=target.model,
            ) from None

    def _for_profile(self, target: ServiceTarget) -> Settings:
        """These settings with the target provider's ``<PROFILE>_`` variables applied."""
        prefixed = load_settings(_env_prefix=f"{target.profile}_")
        # Aliased fields (GEMINI_API_KEY / GOOGLE_API_KEY) ignore the prefix: skip them.
        names = {
            name
            for name in prefixed.model_fields_set
            if name.startswith(f"{target.provider}_")
            and not type(self).model_fields[name].validation_alias
        }
        return self.model_copy(update={name: getattr(prefixed, name) for name in names})

    @property
    def chat_provider(self) -> str:
        """Provider name of `LLM_SERVICE` (the container's selector key)."""
        return self.chat_target.provider

    @property
    def embedding_target(self) -> ServiceTarget:
        """`EMBEDDING_SERVICE`, else the embeddings route, the chat provider, or OpenAI."""
        if self.embedding_service:
            target = parse_service(self.embedding_service, "EMBEDDING_SERVICE")
        elif (routed := routed_embedding_service(self.llm_routes)) is not None:
            target = routed
        else:
            chat = self.chat_target
            provider = chat.provider if chat.provider in EMBEDDING_PROVIDERS else "openai"
            target = ServiceTarget(provider, chat.model if provider == "fake" else None)
        if target.provider not in EMBEDDING_PROVIDERS:
            raise ConfigurationError(
                f"EMBEDDING_SERVICE names {target.provider!r}, which has no embeddings API; "
                f"use one of: {', '.join(sorted(EMBEDDING_PROVIDERS))}"
            )
        model = target.model or self._default_embedding_model(target.provider)
        return ServiceTarget(target.provider, model)

    @property
    def embedding_provider(self) -> str:
        """Provider name of the embedding service (the container's selector key)."""
        return self.embedding_target.provider

    @property
    def compatible_provider(self) -> str:
        """The OpenAI-compatible server named by LLM_SERVICE (else EMBEDDING_SERVICE).

        One process talks to one such server; the container builds one adapter for it.
        """
        for target in (self.chat_target, self.embedding_target):
            if target.provider in OPENAI_COMPATIBLE:
                return target.provider
        raise ConfigurationError(
            "no OpenAI-compatible server is named in LLM_SERVICE or EMBEDDING_SERVICE; "
            f"use one of: {', '.join(OPENAI_COMPATIBLE)}"
        )

    @property
    def compatible_config(self) -> ProviderConfig:
        """`ProviderConfig` of `compatible_provider`."""
        return self.provider_config(self.compatible_provider)

    @property
    def embedding_is_fallback(self) -> bool:
        """True when embeddings go to OpenAI only because the chat provider has none."""
        routed = self.embedding_service or routed_embedding_service(self.llm_routes)
        return not routed and self.chat_target.provider not in EMBEDDING_PROVIDERS

    def _default_chat_model(self, target: ServiceTarget, variable: str = "LLM_SERVICE") -> str:
        defaults = {
            "openai": self.openai_chat_model,
            "azure": self.azure_chat_deployment,
            "anthropic": self.anthropic_chat_model,
            "gemini": self.gemini_chat_model,
            "vertex": self.gemini_chat_model,
            "fake": "echo",
        }
        model = defaults.get(target.provider)
        if not model:
            hint = (
                f"{variable}=azure/<deployment> or AZURE_CHAT_DEPLOYMENT"
                if target.provider == "azure"
                else f"{variable}={target.provider}/<model>"
            )
            raise ConfigurationError(f"{variable} names no model for {target}; set {hint}")
        return model

    def _default_embedding_model(self, provider: str) -> str:
        defaults = {
            "openai": self.openai_embedding_model,
            "azure": self.azure_embedding_deployment,
            "gemini": self.gemini_embedding_model,
            "vertex": self.gemini_embedding_model,
            "fake": "echo",
        }
        model = defaults.get(provider)
        if not model:
            if provider != "azure":
                raise ConfigurationError(
                    f"EMBEDDING_SERVICE names no model for {provider}; "
                    f"set EMBEDDING_SERVICE={provider}/<model>"
                )
            raise ConfigurationError(
                "embeddings on Azure need a deployment: set AZURE_EMBEDDING_DEPLOYMENT "
                "or EMBEDDING_SERVICE=azure/<deployment>"
            )
        return model

    def secret_values(self) -> tuple[str, ...]:
        """Every configured key, token and URL password, for redaction."""
        return secret_values(dict(self))


def load_settings(**overrides: Any) -> Settings:
    """Read `Settings` from the environment; invalid values raise `ConfigurationError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(settings_problem(err) for err in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from None
