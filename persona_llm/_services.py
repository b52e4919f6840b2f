"""Provider names and ``provider/model`` service values: parsing and plain configuration.

Kept apart from `persona_llm.settings` (which reads the environment) so the names and shapes
that adapters and wrappers use can be imported without pydantic-settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from persona_llm._secrets import url_password
from persona_llm.errors import ConfigurationError

__all__ = [
    "EMBEDDING_PROVIDERS",
    "KEY_VARIABLES",
    "OPENAI_COMPATIBLE",
    "PROVIDERS",
    "ProviderConfig",
    "ServiceTarget",
    "azure_endpoint",
    "embedding_route",
    "parse_service",
    "route_entries",
    "routed_embedding_service",
]


OPENAI_COMPATIBLE: dict[str, tuple[str, str | None]] = {
    "ollama": ("http://localhost:11434/v1", "ollama"),
    "vllm": ("http://localhost:8000/v1", "EMPTY"),
    "openrouter": ("https://openrouter.ai/api/v1", None),
    "groq": ("https://api.groq.com/openai/v1", None),
    "mistral": ("https://api.mistral.ai/v1", None),
    "deepseek": ("https://api.deepseek.com/v1", None),
}
"""OpenAI-compatible servers served by the OpenAI adapter: default base URL, and the key to
send when none is configured (local servers need none; hosted ones must have ``<NAME>_API_KEY``).
``<NAME>_BASE_URL`` overrides the URL."""

PROVIDERS = ("openai", "azure", "anthropic", "gemini", "vertex", "fake", *OPENAI_COMPATIBLE)
"""Provider names accepted before the ``/`` of ``LLM_SERVICE``."""

EMBEDDING_PROVIDERS = frozenset(
    {"openai", "azure", "gemini", "vertex", "fake", "ollama", "vllm", "mistral"}
)
"""Providers with an embeddings endpoint (Anthropic has none)."""

KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    **{name: f"{name.upper()}_API_KEY" for name in OPENAI_COMPATIBLE},
}


@dataclass(frozen=True)
class ServiceTarget:
    """A parsed ``provider[@profile]/model`` value; `model` is None when only the provider
    was named. A `profile` (``azure@us/...``, in LLM_FALLBACKS, LLM_POOL, LLM_ROUTES) reads the
    provider's variables with the prefix ``<PROFILE>_`` first (``US_AZURE_API_KEY``)."""

    provider: str
    model: str | None
    profile: str | None = None

    def __str__(self) -> str:
        at = f"@{self.profile}" if self.profile else ""
        return f"{self.provider}{at}/{self.model or ''}"


def parse_service(
    value: str, variable: str = "LLM_SERVICE", *, profiles: bool = False
) -> ServiceTarget:
    """Parse ``provider/model`` (the model may itself contain ``/``; ``provider/`` means default).

    Args:
        profiles: accept ``provider@profile/model`` (LLM_FALLBACKS, LLM_POOL, LLM_ROUTES do).

    Raises:
        ConfigurationError: no ``/``, or an unknown provider; the message shows the expected form.
    """
    text = value.strip()
    provider, slash, model = text.partition("/")
    provider, at, profile = provider.strip().lower().partition("@")
    if at and not (profiles and re.fullmatch(r"[a-z0-9_]+", profile)):
        raise ConfigurationError(
            f"{variable}={value!r}: a profile (provider@name, name of letters, digits and _) "
            "is allowed only in LLM_FALLBACKS, LLM_POOL and LLM_ROUTES"
        )
    if not slash or not provider:
        raise ConfigurationError(
            f"{variable}={value!r} is not of the form provider/model; set it to e.g. "
            f"'openai/gpt-4o-mini' or 'anthropic/' (provider default model). "
            f"Providers: {', '.join(PROVIDERS)}"
        )
    if provider not in PROVIDERS:
        raise ConfigurationError(
            f"{variable}={value!r} names an unknown provider {provider!r}; "
            f"use one of: {', '.join(PROVIDERS)}"
        )
    return ServiceTarget(provider, model.strip() or None, profile or None)


@dataclass(frozen=True)
class ProviderConfig:
    """Plain values an adapter is built from (no environment access past this point).

    No retry count: retries belong to `persona_llm.reliability` (``LLM_MAX_RETRIES``), and the
    SDKs' own are always off, so every attempt is one request the logs and hooks see.
    """

    name: str
    api_key: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    timeout: float = 60.0
    """Seconds one attempt may take, whole (``LLM_TIMEOUT``): connecting, waiting, reading."""
    connect_timeout: float = 10.0
    stream_first_chunk_timeout: float | None = None
    """Seconds a stream may take to send its first event (``LLM_STREAM_FIRST_CHUNK_TIMEOUT``;
    None: `timeout`)."""
    stream_idle_timeout: float | None = None
    """Longest wait for a stream's next event (``LLM_STREAM_IDLE_TIMEOUT``; None: `timeout`)."""
    embedding_dimensions: int | None = None
    unsupported_params: Literal["error", "drop"] = "error"
    """What the OpenAI family does with a parameter a model rejects (`LLM_UNSUPPORTED_PARAMS`)."""
    api: str = "chat"
    """OpenAI and Azure transport: ``chat``, ``responses`` or ``auto`` (`OPENAI_API`)."""
    auth: str = "key"
    """How the provider authenticates: ``key``; Azure also ``entra`` (a token from
    azure-identity) or ``token`` (a static `ad_token`); Vertex AI ``adc`` or ``file``."""
    ad_token: str | None = None
    """A static Microsoft Entra ID token for Azure (``AZURE_AD_TOKEN``), a secret."""
    vertex: bool = False
    """Gemini through Vertex AI (project, location, Google credentials) instead of a key."""
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    """A service-account JSON file for Vertex AI (``GOOGLE_APPLICATION_CREDENTIALS``)."""

    @property
    def read_timeout(self) -> float:
        """The SDK's read timeout: the longest of the bounds above (each is enforced exactly
        by `persona_llm.providers._timebox`; this is only the transport's backstop)."""
        return max(
            self.timeout, self.stream_first_chunk_timeout or 0, self.stream_idle_timeout or 0
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values to redact from errors and logs: the key (unless it is a local server's
        placeholder such as ``ollama``), the token and a password in the base URL."""
        placeholder = OPENAI_COMPATIBLE.get(self.name, ("", None))[1]
        key = self.api_key if self.api_key != placeholder else None
        values = (key, self.ad_token, url_password(self.base_url))
        return tuple(v for v in values if v)

    def __repr__(self) -> str:  # never show the key
        key = "set" if self.api_key else "unset"
        return f"ProviderConfig(name={self.name!r}, api_key={key}, base_url={self.base_url!r})"


def embedding_route(text: str, variable: str = "LLM_ROUTES[embeddings]") -> ServiceTarget:
    """The target of the ``embeddings=`` route of ``LLM_ROUTES``: one provider/model.

    Raises:
        ConfigurationError: fallbacks, a pool or a profile, or a provider without embeddings.
    """
    if any(sign in text for sign in ",+*@"):
        raise ConfigurationError(
            f"{variable}={text!r}: the embeddings route names one provider/model, without "
            "fallbacks, pool or profile (vectors of different models are not comparable)"
        )
    target = parse_service(text, variable)
    if target.provider not in EMBEDDING_PROVIDERS:
        raise ConfigurationError(
            f"{variable}={text!r}: {target.provider} has no embeddings API; route embeddings "
            f"to one of: {', '.join(sorted(EMBEDDING_PROVIDERS))}",
            provider=target.provider,
            model=target.model,
        )
    return target


def route_entries(llm_routes: str) -> list[tuple[str, str, str]]:
    """The ``(entry, task, targets)`` of each ``LLM_ROUTES`` entry, task names lowercased.

    Raises:
        ConfigurationError: an entry is not of the form ``task=targets``.
    """
    entries = []
    for entry in (e.strip() for e in re.split(r"[;\n]", llm_routes)):
        if not entry:
            continue
        name, equals, targets = entry.partition("=")
        task = name.strip().lower()
        if not equals or not task or not targets.strip():
            raise ConfigurationError(
                f"LLM_ROUTES entry {entry!r} is not of the form task=provider/model; "
                "e.g. LLM_ROUTES=extraction=openai/gpt-4o-mini;answer=gemini/"
            )
        entries.append((entry, task, targets.strip()))
    return entries


def routed_embedding_service(llm_routes: str) -> ServiceTarget | None:
    """The target of the ``embeddings=`` entry of an ``LLM_ROUTES`` value, if any."""
    for _, task, targets in route_entries(llm_routes):
        if task == "embeddings":
            return embedding_route(targets)
    return None


def azure_endpoint(base: str, version: str) -> tuple[str, str]:
    """The Azure resource endpoint and API version: ``v1`` when `version` is ``v1`` or `base`
    ends in ``/openai/v1`` (then `base` becomes the ``.../openai/v1/`` base URL the OpenAI
    client takes), else `base` and the dated `version` as they are."""
    root = base.strip().rstrip("/")
    if root.endswith("/openai/v1"):
        return root + "/", "v1"
    if version.strip().lower() == "v1":
        root = root.removesuffix("/openai")
        return root + "/openai/v1/", "v1"
    return base, version
