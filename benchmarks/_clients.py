"""The three ways a benchmark calls a provider, built alike so they compare like with like.

* **raw**: the provider's SDK client, built by hand the way `persona_llm.providers.*`
  builds its own (``sync_client`` / ``client_options``): the same key header, a 60 s read
  and 10 s connect timeout, and 2 SDK retries (``LLM_TIMEOUT`` / ``LLM_MAX_RETRIES``
  defaults). The call is what a user of the bare SDK writes for the same request, and the
  reply text is read from the SDK object.
* **direct**: ``ChatClient(build_adapter(config), model)``.
* **container**: ``get_chat_client().chat(...)`` with the environment pointing at the
  benchmark server: what applications call, so it is the headline figure.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

PROVIDERS = ("openai", "azure", "anthropic", "gemini")
EMBEDDING_PROVIDERS = ("openai", "azure", "gemini")

KEY = "bench-key-0123456789"
TIMEOUT, CONNECT_TIMEOUT, MAX_RETRIES = 60.0, 10.0, 2
AZURE_API_VERSION = "2024-10-21"

CHAT_MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "gpt-4o-mini",  # the deployment name
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
}
EMBEDDING_MODELS = {
    "openai": "text-embedding-3-small",
    "azure": "text-embedding-3-small",
    "gemini": "gemini-embedding-001",
}

SYSTEM = "You are a helpful assistant. Answer in one sentence."
USER = "Say hello."
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
ANTHROPIC_MAX_TOKENS = 8192  # what persona-llm sends for claude-sonnet-4-6 when none is given

ChatCall = Callable[[], str]
AsyncChatCall = Callable[[], Awaitable[str]]
EmbedCall = Callable[[list[str]], list[list[float]]]

_ENV_PREFIXES = ("LLM_", "EMBEDDING_SERVICE", "OPENAI_", "AZURE_", "ANTHROPIC_", "GEMINI_")


def base_url(provider: str, root: str) -> str:
    """The SDK base URL of `provider` on the benchmark server at `root` (``http://host:port``)."""
    return f"{root}/v1" if provider == "openai" else root


# -- persona-llm ----------------------------------------------------------------------------


def provider_config(provider: str, root: str) -> Any:
    """The `ProviderConfig` the container would build from the benchmark environment."""
    from persona_llm.settings import ProviderConfig

    return ProviderConfig(
        name=provider,
        api_key=KEY,
        base_url=base_url(provider, root),
        api_version=AZURE_API_VERSION if provider == "azure" else None,
        timeout=TIMEOUT,
        connect_timeout=CONNECT_TIMEOUT,
    )


def point_container_at(provider: str, root: str, *, embeddings: bool = False) -> None:
    """Set the environment for `provider` on the server and drop the cached clients."""
    from persona_llm.facades import reset_clients

    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            del os.environ[name]
    model = EMBEDDING_MODELS[provider] if embeddings else CHAT_MODELS[provider]
    os.environ["EMBEDDING_SERVICE" if embeddings else "LLM_SERVICE"] = f"{provider}/{model}"
    os.environ[f"{provider.upper()}_API_KEY"] = KEY
    if provider == "azure":
        os.environ["AZURE_API_BASE"] = root
        os.environ["AZURE_API_VERSION"] = AZURE_API_VERSION
    else:
        os.environ[f"{provider.upper()}_BASE_URL"] = base_url(provider, root)
    reset_clients()


def direct_chat(provider: str, root: str) -> tuple[Any, ChatCall]:
    """``ChatClient(build_adapter(config), model)`` and a call returning the reply text."""
    from persona_llm.clients import ChatClient
    from persona_llm.providers import build_adapter

    client = ChatClient(build_adapter(provider_config(provider, root)), CHAT_MODELS[provider])
    return client, lambda: client.chat(MESSAGES).content


def container_chat() -> ChatCall:
    """``get_chat_client().chat(...)``, the client fetched on every call as the README says."""
    from persona_llm.facades import get_chat_client

    return lambda: get_chat_client().chat(MESSAGES).content


def container_async_chat() -> AsyncChatCall:
    """``await get_async_chat_client().chat(...)``."""
    from persona_llm.facades import get_async_chat_client

    async def call() -> str:
        return (await get_async_chat_client().chat(MESSAGES)).content

    return call


# -- raw SDKs -------------------------------------------------------------------------------


def raw_client(provider: str, root: str, *, asynchronous: bool = False) -> Any:
    """The bare SDK client, with the settings persona-llm gives its own.

    For Gemini this is the ``genai.Client`` even when `asynchronous` (use its ``.aio``).
    """
    url = base_url(provider, root)
    if provider in ("openai", "azure"):
        import openai

        options: dict[str, Any] = {
            "api_key": KEY,
            "timeout": openai.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            "max_retries": MAX_RETRIES,
        }
        if provider == "azure":
            cls = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
            return cls(azure_endpoint=url, api_version=AZURE_API_VERSION, **options)
        return (openai.AsyncOpenAI if asynchronous else openai.OpenAI)(base_url=url, **options)
    if provider == "anthropic":
        import anthropic

        return (anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic)(
            api_key=KEY,
            base_url=url,
            timeout=anthropic.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            max_retries=MAX_RETRIES,
            default_headers={"x-api-key": KEY, "Authorization": anthropic.omit},  # type: ignore[dict-item]
        )
    from google import genai
    from google.genai import types

    options_ = types.HttpOptions(
        base_url=url,
        api_version="v1beta",
        timeout=round(TIMEOUT * 1000),
        retry_options=types.HttpRetryOptions(attempts=MAX_RETRIES + 1),
    )
    # Keep the `genai.Client` referenced by whoever calls: its __del__ closes the sync pool.
    return genai.Client(api_key=KEY, vertexai=False, http_options=options_)


def raw_chat(provider: str, client: Any) -> ChatCall:
    """The bare SDK call for the benchmark conversation, returning the reply text."""
    model = CHAT_MODELS[provider]
    if provider in ("openai", "azure"):
        create = client.chat.completions.create
        return lambda: create(model=model, messages=MESSAGES).choices[0].message.content
    if provider == "anthropic":
        send = client.messages.create
        user = MESSAGES[1:]
        return lambda: (
            send(model=model, system=SYSTEM, messages=user, max_tokens=ANTHROPIC_MAX_TOKENS)
            .content[0]
            .text
        )
    from google.genai import types

    return lambda: (
        client.models.generate_content(
            model=model,
            contents=USER,
            config=types.GenerateContentConfig(system_instruction=SYSTEM),
        ).text
    )


def raw_async_chat(provider: str, client: Any) -> AsyncChatCall:
    """Asyncio twin of `raw_chat` over the SDK's async client."""
    model = CHAT_MODELS[provider]

    async def openai_call() -> str:
        reply = await client.chat.completions.create(model=model, messages=MESSAGES)
        return str(reply.choices[0].message.content)

    async def anthropic_call() -> str:
        message = await client.messages.create(
            model=model, system=SYSTEM, messages=MESSAGES[1:], max_tokens=ANTHROPIC_MAX_TOKENS
        )
        return str(message.content[0].text)

    async def gemini_call() -> str:
        from google.genai import types

        response = await client.aio.models.generate_content(
            model=model,
            contents=USER,
            config=types.GenerateContentConfig(system_instruction=SYSTEM),
        )
        return str(response.text)

    if provider in ("openai", "azure"):
        return openai_call
    return anthropic_call if provider == "anthropic" else gemini_call


def raw_embed(provider: str, client: Any, dimensions: int) -> EmbedCall:
    """Embeddings with the bare SDK, batched by hand at the API's limit, order kept."""
    model = EMBEDDING_MODELS[provider]
    if provider in ("openai", "azure"):

        def openai_embed(texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = []
            for start in range(0, len(texts), 2048):
                reply = client.embeddings.create(
                    model=model, input=texts[start : start + 2048], dimensions=dimensions
                )
                vectors += [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
            return vectors

        return openai_embed
    from google.genai import types

    config = types.EmbedContentConfig(output_dimensionality=dimensions)

    def gemini_embed(texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 100):
            batch = [types.Content(parts=[types.Part(text=t)]) for t in texts[start : start + 100]]
            reply = client.models.embed_content(model=model, contents=batch, config=config)
            vectors += [list(e.values or []) for e in reply.embeddings or []]
        return vectors

    return gemini_embed


# -- peers (the optional `bench` extra) -----------------------------------------------------


def peer_chats(provider: str, root: str) -> dict[str, ChatCall]:
    """aisuite's and LiteLLM's call for the benchmark conversation, for those installed.

    Both are thin layers over the same SDK (aisuite builds an ``openai.OpenAI``; LiteLLM its
    own OpenAI client), called the way their READMEs show, with the server's URL and key.
    """
    model, url = CHAT_MODELS[provider], base_url(provider, root)
    peers: dict[str, ChatCall] = {}
    if provider != "openai":
        return peers
    try:
        import aisuite
    except ImportError:
        pass
    else:
        suite = aisuite.Client({"openai": {"api_key": KEY, "base_url": url}})
        create = suite.chat.completions.create
        peers["aisuite"] = lambda: (
            create(model=f"openai:{model}", messages=MESSAGES).choices[0].message.content
        )
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch at import
    try:
        import litellm
    except ImportError:
        return peers
    litellm.telemetry = False
    completion = litellm.completion
    peers["litellm"] = lambda: (
        completion(model=f"openai/{model}", messages=MESSAGES, api_base=url, api_key=KEY)
        .choices[0]
        .message.content
    )
    return peers
