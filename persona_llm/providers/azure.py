"""The Azure OpenAI adapter (``LLM_SERVICE=azure/<deployment>``).

Azure speaks the OpenAI bodies, so this is the OpenAI adapter with another client: the
SDK's ``AzureOpenAI`` on ``AZURE_API_BASE`` with ``AZURE_API_VERSION``, the key sent in the
``api-key`` header. The model argument of every call is the deployment name; it becomes
``/openai/deployments/<deployment>/...`` in the URL.

Azure's error quirks need no code of their own: the shared translation maps a 400 with
``code: "content_filter"`` (or an ``innererror`` ``ResponsibleAIPolicyViolation``) to
`ContentFilterError`, a 404 ``DeploymentNotFound`` (even without a Content-Type) to
`NotFoundError`, and a 401 with the string code ``"401"`` to `AuthenticationError`;
``prompt_filter_results`` and per-choice ``content_filter_results`` are ignored.
"""

from __future__ import annotations

import openai

from persona_llm.providers.openai.adapter import OpenAIAdapter, client_options
from persona_llm.settings import ProviderConfig

__all__ = ["AzureAdapter", "async_client", "sync_client"]


def sync_client(config: ProviderConfig) -> openai.AzureOpenAI:
    """The blocking Azure SDK client (the container closes it on reset)."""
    return openai.AzureOpenAI(
        azure_endpoint=config.base_url or "",
        api_version=config.api_version,
        **client_options(config),
    )


def async_client(config: ProviderConfig) -> openai.AsyncAzureOpenAI:
    """A new asyncio Azure SDK client (the adapter keeps one per event loop)."""
    return openai.AsyncAzureOpenAI(
        azure_endpoint=config.base_url or "",
        api_version=config.api_version,
        **client_options(config),
    )


class AzureAdapter(OpenAIAdapter):
    """Chat and embeddings over Azure OpenAI; `model` arguments are deployment names.

    Reasoning-model rules (``max_completion_tokens``, temperature) apply when the deployment
    is named after its model (``o3-mini``, ``gpt-5-mini``...); otherwise Azure's own 400 for a
    rejected parameter arrives as `InvalidRequestError`.
    """

    name: str = "azure"
