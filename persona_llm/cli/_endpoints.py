"""What ``providers`` and ``doctor`` say about each provider's endpoint: transport and auth.

One line per provider, never a secret: ``responses (auto)``, ``v1, entra``, ``project x /
us-central1, ADC``. Built from the same `ProviderConfig` the adapters get.
"""

from __future__ import annotations

from persona_llm.errors import ConfigurationError
from persona_llm.settings import OPENAI_COMPATIBLE, ProviderConfig, Settings

__all__ = ["endpoint_summary"]

_AUTH = {
    "key": "key",
    "entra": "entra (DefaultAzureCredential)",
    "token": "entra (AZURE_AD_TOKEN)",
    "adc": "ADC",
    "file": "service-account file",
}


def _transport(config: ProviderConfig, model: str | None) -> str:
    """``chat`` / ``responses`` as configured; under ``auto``, the default model's choice."""
    from persona_llm.providers.openai.responses_select import is_responses_only

    setting = config.api
    if config.name == "azure" and config.api_version != "v1" and setting == "auto":
        return "chat (auto: Responses on Azure's v1 API only)"
    if setting != "auto":
        return setting
    if model and is_responses_only(model):
        return "responses (auto)"
    return "chat (auto: responses for reasoning with tools)"


def _model(settings: Settings, name: str) -> str | None:
    try:
        target = settings.chat_target
    except ConfigurationError:
        return None
    return target.model if target.provider == name else None


def endpoint_summary(settings: Settings, name: str) -> str:
    """Transport and authentication of provider `name`, or ``-`` when it is not configured."""
    try:
        config = settings.provider_config(name)
    except ConfigurationError:
        return "-"
    auth = _AUTH.get(config.auth, config.auth)
    if config.vertex:
        project = config.project or "(from ADC)"
        return f"vertex: project {project} / {config.location}, {auth}"
    if name in OPENAI_COMPATIBLE:
        return "chat"
    if name == "openai":
        return f"{_transport(config, _model(settings, name))}, {auth}"
    if name == "azure":
        version = "v1" if config.api_version == "v1" else f"api-version {config.api_version}"
        return f"{version}, {auth}, {_transport(config, _model(settings, name))}"
    if name == "fake":
        return "offline"
    return auth
