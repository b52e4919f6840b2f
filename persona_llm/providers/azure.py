"""The Azure OpenAI adapter (``LLM_SERVICE=azure/<deployment>``).

Azure speaks the OpenAI bodies, so this is the OpenAI adapter with another client. Two API
surfaces:

* **dated versions** (``AZURE_API_VERSION=2024-10-21``, the default): the SDK's ``AzureOpenAI``
  on ``AZURE_API_BASE``; the deployment goes in the URL
  (``/openai/deployments/<deployment>/...?api-version=...``);
* **v1** (``AZURE_API_VERSION=v1``, or an ``AZURE_API_BASE`` ending in ``/openai/v1``): the
  plain ``OpenAI`` client on ``https://<resource>.openai.azure.com/openai/v1/``, the deployment
  as the body's ``model``, no ``api-version``; Chat Completions and the Responses API.

Authentication (`ProviderConfig.auth`): an API key (``AZURE_API_KEY``), or Microsoft Entra ID:
with no key, or with ``AZURE_AUTH=entra``, a bearer token for the scope
``https://cognitiveservices.azure.com/.default`` from azure-identity's
``DefaultAzureCredential`` (the optional extra ``persona-llm[azure-identity]``, imported only
then), fetched through the SDK's token-provider hook on every request (azure-identity caches
and refreshes it); or a static token in ``AZURE_AD_TOKEN``. Tokens are secrets: they are
redacted from errors like keys.

Azure's error quirks need no code of their own: the shared translation maps a 400 with
``code: "content_filter"`` (or an ``innererror`` ``ResponsibleAIPolicyViolation``) to
`ContentFilterError`, a 404 ``DeploymentNotFound`` (even without a Content-Type) to
`NotFoundError`, and a 401 with the string code ``"401"`` to `AuthenticationError`;
``prompt_filter_results`` and per-choice ``content_filter_results`` are ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import openai

from persona_llm.errors import ConfigurationError, sanitize_exception
from persona_llm.providers._timebox import SYNC_HOOKS
from persona_llm.providers.openai.adapter import OpenAIAdapter, client_options
from persona_llm.settings import ProviderConfig

__all__ = [
    "ENTRA_SCOPE",
    "AzureAdapter",
    "async_client",
    "entra_token_provider",
    "sync_client",
]

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
"""The Microsoft Entra ID scope of Azure OpenAI tokens."""

_INSTALL = "pip install 'persona-llm[azure-identity]'"


def entra_token_provider(credential: Any = None) -> Callable[[], str]:
    """A callable returning a current Entra ID bearer token for Azure OpenAI.

    Args:
        credential: an azure-identity ``TokenCredential``; ``DefaultAzureCredential()``
            (environment, workload identity, managed identity, Azure CLI...) when None.

    Raises:
        ConfigurationError: azure-identity is not installed (at once), or, when the callable
            is used, no credential could give a token (saying what to set).
    """
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ConfigurationError(
            "Azure without AZURE_API_KEY uses Microsoft Entra ID, which needs azure-identity: "
            f"{_INSTALL}, or set AZURE_API_KEY (or a token in AZURE_AD_TOKEN)",
            provider="azure",
        ) from None
    source = get_bearer_token_provider(credential or DefaultAzureCredential(), ENTRA_SCOPE)

    def token() -> str:
        try:
            return source()
        except Exception as exc:
            raise ConfigurationError(
                "no Microsoft Entra ID token for Azure OpenAI: DefaultAzureCredential found no "
                f"credential ({type(exc).__name__}). Sign in with `az login`, set "
                "AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET (or a managed or "
                "workload identity), or set AZURE_API_KEY",
                provider="azure",
            ) from sanitize_exception(exc)

    return token


def _async_token(token: Callable[[], str]) -> Callable[[], Awaitable[str]]:
    async def fetch() -> str:
        # azure-identity may block on the network when it refreshes: not on the event loop.
        return await asyncio.to_thread(token)

    return fetch


def _auth(config: ProviderConfig, credential: Any, *, is_async: bool) -> dict[str, Any]:
    """The SDK client's credential arguments for `config.auth`."""
    v1 = config.api_version == "v1"
    if config.auth == "token":
        return {"api_key": config.ad_token} if v1 else {"azure_ad_token": config.ad_token}
    if config.auth == "entra":
        token = entra_token_provider(credential)
        provider: Any = _async_token(token) if is_async else token
        return {"api_key": provider} if v1 else {"azure_ad_token_provider": provider}
    return {"api_key": config.api_key}


def _options(config: ProviderConfig, credential: Any, *, is_async: bool) -> dict[str, Any]:
    options = client_options(config)
    del options["api_key"]
    return options | _auth(config, credential, is_async=is_async)


def sync_client(config: ProviderConfig, credential: Any = None) -> openai.OpenAI:
    """The blocking SDK client (the container closes it on reset).

    Args:
        credential: an azure-identity ``TokenCredential`` for Entra ID (tests pass a fake);
            ``DefaultAzureCredential()`` when None and the configuration asks for Entra ID.
    """
    options = _options(config, credential, is_async=False)
    options["http_client"] = openai.DefaultHttpxClient(event_hooks=SYNC_HOOKS)  # see _timebox
    if config.api_version == "v1":
        return openai.OpenAI(base_url=config.base_url, **options)
    return openai.AzureOpenAI(
        azure_endpoint=config.base_url or "", api_version=config.api_version, **options
    )


def async_client(config: ProviderConfig, credential: Any = None) -> openai.AsyncOpenAI:
    """A new asyncio SDK client (the adapter keeps one per event loop)."""
    options = _options(config, credential, is_async=True)
    if config.api_version == "v1":
        return openai.AsyncOpenAI(base_url=config.base_url, **options)
    return openai.AsyncAzureOpenAI(
        azure_endpoint=config.base_url or "", api_version=config.api_version, **options
    )


class AzureAdapter(OpenAIAdapter):
    """Chat and embeddings over Azure OpenAI; `model` arguments are deployment names.

    Reasoning-model rules (``max_completion_tokens``, temperature) apply when the deployment
    is named after its model (``o3-mini``, ``gpt-5-mini``...); otherwise Azure's own 400 for a
    rejected parameter arrives as `InvalidRequestError`. The Responses API is used as
    ``AZURE_OPENAI_API`` says (``auto`` chooses it on the v1 API only, where Azure serves it
    for every deployment).
    """

    name: str = "azure"
