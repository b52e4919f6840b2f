"""`Settings.provider_config`: the plain `ProviderConfig` an adapter receives, from the settings.

A mixin of `persona_llm.settings.Settings` (which declares the fields read here), kept apart
so that reading the environment and checking what each provider needs are one screen each.
A missing key or Azure endpoint becomes a `ConfigurationError` that names the variable to set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from persona_llm._services import (
    KEY_VARIABLES,
    OPENAI_COMPATIBLE,
    ProviderConfig,
    ServiceTarget,
    azure_endpoint,
)
from persona_llm.errors import ConfigurationError

__all__ = ["ProviderConfigs"]


class ProviderConfigs:
    """Builds each provider's `ProviderConfig` from the `Settings` fields it declares."""

    if TYPE_CHECKING:  # the fields and targets of Settings (mypy checks they agree)
        embedding_dimensions: int | None
        llm_timeout: float
        llm_connect_timeout: float | None
        llm_stream_first_chunk_timeout: float | None
        llm_stream_idle_timeout: float | None
        llm_unsupported_params: Literal["error", "drop"]
        openai_embedding_dimensions: int | None
        openai_base_url: str | None
        openai_api: Literal["chat", "responses", "auto"]
        azure_api_key: SecretStr | None
        azure_api_base: str | None
        azure_api_version: str
        azure_openai_api: Literal["chat", "responses", "auto"]
        azure_auth: Literal["key", "entra"] | None
        azure_ad_token: SecretStr | None
        anthropic_base_url: str | None
        gemini_base_url: str | None
        gemini_vertex: bool
        google_cloud_project: str | None
        google_cloud_location: str | None
        google_application_credentials: str | None
        fake_embedding_dimensions: int

        @property
        def chat_target(self) -> ServiceTarget: ...

        def _default_chat_model(
            self, target: ServiceTarget, variable: str = "LLM_SERVICE"
        ) -> str: ...

    def provider_config(self, name: str) -> ProviderConfig:
        """Plain configuration of one provider, checked for what that provider needs.

        Raises:
            ConfigurationError: the key (or the Azure endpoint) is not set.
        """
        common: dict[str, Any] = {
            "name": name,
            "timeout": self.llm_timeout,
            "connect_timeout": self.llm_connect_timeout or min(10.0, self.llm_timeout),
            "stream_first_chunk_timeout": self.llm_stream_first_chunk_timeout,
            "stream_idle_timeout": self.llm_stream_idle_timeout,
            "unsupported_params": self.llm_unsupported_params,
            "embedding_dimensions": self.embedding_dimensions,
        }
        if name == "fake":
            common["embedding_dimensions"] = (
                self.embedding_dimensions or self.fake_embedding_dimensions
            )
            return ProviderConfig(**common)
        if name == "vertex" or (name == "gemini" and self.gemini_vertex):
            return self._vertex_config(common)
        if name == "azure":
            return self._azure_config(common)
        key: SecretStr | None = getattr(self, f"{name}_api_key")
        if name in OPENAI_COMPATIBLE:
            default_url, keyless = OPENAI_COMPATIBLE[name]
            if key is None and keyless is not None:
                key = SecretStr(keyless)
            common["base_url"] = getattr(self, f"{name}_base_url") or default_url
        if key is None or not key.get_secret_value().strip():
            raise ConfigurationError(
                f"{KEY_VARIABLES[name]} is not set: the {name} provider needs an API key. "
                f"Set {KEY_VARIABLES[name]} in the environment or in .env",
                **self._where(name),
            )
        common["api_key"] = key.get_secret_value().strip()
        if name == "openai":
            common["embedding_dimensions"] = (
                self.openai_embedding_dimensions or self.embedding_dimensions
            )
            return ProviderConfig(
                **common,
                base_url=self.openai_base_url,
                api=self.openai_api,
            )
        if name in OPENAI_COMPATIBLE:
            return ProviderConfig(**common)
        if name == "anthropic":
            return ProviderConfig(**common, base_url=self.anthropic_base_url)
        return ProviderConfig(**common, base_url=self.gemini_base_url)

    def _azure_config(self, common: dict[str, Any]) -> ProviderConfig:
        """Azure: the endpoint, the API version (``v1`` or dated) and how to authenticate."""
        if not self.azure_api_base:
            raise ConfigurationError(
                "AZURE_API_BASE is not set: the azure provider needs the resource endpoint, "
                "e.g. AZURE_API_BASE=https://<resource>.openai.azure.com",
                **self._where("azure"),
            )
        base, version = azure_endpoint(self.azure_api_base, self.azure_api_version)
        key = self.azure_api_key.get_secret_value().strip() if self.azure_api_key else ""
        token = self.azure_ad_token.get_secret_value().strip() if self.azure_ad_token else ""
        auth: str = self.azure_auth or ("key" if key else "entra")
        if auth == "key" and not key:
            raise ConfigurationError(
                "AZURE_API_KEY is not set: the azure provider needs an API key, or Microsoft "
                "Entra ID (AZURE_AUTH=entra, with persona-llm[azure-identity] installed, or a "
                "token in AZURE_AD_TOKEN)",
                **self._where("azure"),
            )
        if auth == "entra" and token:
            auth = "token"
        return ProviderConfig(
            **common,
            api_key=key if auth == "key" else None,
            ad_token=token if auth == "token" else None,
            auth=auth,
            base_url=base,
            api_version=version,
            api=self.azure_openai_api,
        )

    def _vertex_config(self, common: dict[str, Any]) -> ProviderConfig:
        """Gemini on Vertex AI: project, location and Google credentials, no key."""
        credentials_file = self.google_application_credentials
        return ProviderConfig(
            **common,
            base_url=self.gemini_base_url,
            vertex=True,
            project=self.google_cloud_project,
            location=self.google_cloud_location or "global",
            credentials_file=credentials_file,
            auth="file" if credentials_file else "adc",
        )

    def _where(self, provider: str) -> dict[str, Any]:
        """`provider` and the model it would be called with, for a configuration error."""
        try:
            chat = self.chat_target
            model = chat.model if chat.provider == provider else None
            model = model or self._default_chat_model(ServiceTarget(provider, None))
        except ConfigurationError:
            model = None
        return {"provider": provider, "model": model}
