"""persona-llm: one sync-first client for OpenAI, Azure OpenAI, Anthropic and Gemini.

Names are re-exported lazily: ``import persona_llm`` loads neither a provider SDK nor the
container; each name is imported the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "APIConnectionError": "persona_llm.errors",
    "AsyncChatClient": "persona_llm.clients",
    "AsyncEmbeddingClient": "persona_llm.clients",
    "AudioPart": "persona_llm.content",
    "AuthenticationError": "persona_llm.errors",
    "BudgetExceededError": "persona_llm.usage.tracker",
    "Capabilities": "persona_llm.types",
    "ChatChunk": "persona_llm.types",
    "ChatClient": "persona_llm.clients",
    "ChatMessage": "persona_llm.types",
    "ChatResponse": "persona_llm.types",
    "ConfigurationError": "persona_llm.errors",
    "Container": "persona_llm.containers",
    "ContentFilterError": "persona_llm.errors",
    "DocumentPart": "persona_llm.content",
    "EmbeddingClient": "persona_llm.clients",
    "ImagePart": "persona_llm.content",
    "InvalidRequestError": "persona_llm.errors",
    "LLMError": "persona_llm.errors",
    "LLMTimeoutError": "persona_llm.errors",
    "NotFoundError": "persona_llm.errors",
    "PermissionDeniedError": "persona_llm.errors",
    "ProviderUnavailableError": "persona_llm.errors",
    "RateLimitError": "persona_llm.errors",
    "ResponseParseError": "persona_llm.errors",
    "Settings": "persona_llm.settings",
    "TextPart": "persona_llm.content",
    "Tool": "persona_llm.types",
    "ToolCall": "persona_llm.types",
    "ToolStepLimitError": "persona_llm.features.tools",
    "Usage": "persona_llm.types",
    "acollect_stream": "persona_llm.features.streaming",
    "arun_tools": "persona_llm.features.tools",
    "collect_stream": "persona_llm.features.streaming",
    "container": "persona_llm.containers",
    "get_async_chat_client": "persona_llm.facades",
    "get_async_embedding_client": "persona_llm.facades",
    "get_chat_client": "persona_llm.facades",
    "get_embedding_client": "persona_llm.facades",
    "reset_clients": "persona_llm.facades",
    "reset_usage": "persona_llm.facades",
    "run_tools": "persona_llm.features.tools",
    "tool": "persona_llm.features.tools",
    "track_usage": "persona_llm.usage.tracker",
    "usage_report": "persona_llm.facades",
    "usage_table": "persona_llm.usage.tracker",
}

# A literal list, so type checkers see what the package exports (tested equal to _EXPORTS).
__all__ = [
    "APIConnectionError",
    "AsyncChatClient",
    "AsyncEmbeddingClient",
    "AudioPart",
    "AuthenticationError",
    "BudgetExceededError",
    "Capabilities",
    "ChatChunk",
    "ChatClient",
    "ChatMessage",
    "ChatResponse",
    "ConfigurationError",
    "Container",
    "ContentFilterError",
    "DocumentPart",
    "EmbeddingClient",
    "ImagePart",
    "InvalidRequestError",
    "LLMError",
    "LLMTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ResponseParseError",
    "Settings",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolStepLimitError",
    "Usage",
    "__version__",
    "acollect_stream",
    "arun_tools",
    "collect_stream",
    "container",
    "get_async_chat_client",
    "get_async_embedding_client",
    "get_chat_client",
    "get_embedding_client",
    "reset_clients",
    "reset_usage",
    "run_tools",
    "tool",
    "track_usage",
    "usage_report",
    "usage_table",
]

if TYPE_CHECKING:
    from persona_llm.clients import (
        AsyncChatClient,
        AsyncEmbeddingClient,
        ChatClient,
        EmbeddingClient,
    )
    from persona_llm.containers import Container, container
    from persona_llm.content import AudioPart, DocumentPart, ImagePart, TextPart
    from persona_llm.errors import (
        APIConnectionError,
        AuthenticationError,
        ConfigurationError,
        ContentFilterError,
        InvalidRequestError,
        LLMError,
        LLMTimeoutError,
        NotFoundError,
        PermissionDeniedError,
        ProviderUnavailableError,
        RateLimitError,
        ResponseParseError,
    )
    from persona_llm.facades import (
        get_async_chat_client,
        get_async_embedding_client,
        get_chat_client,
        get_embedding_client,
        reset_clients,
        reset_usage,
        usage_report,
    )
    from persona_llm.features.streaming import acollect_stream, collect_stream
    from persona_llm.features.tools import ToolStepLimitError, arun_tools, run_tools, tool
    from persona_llm.settings import Settings
    from persona_llm.types import (
        Capabilities,
        ChatChunk,
        ChatMessage,
        ChatResponse,
        Tool,
        ToolCall,
        Usage,
    )
    from persona_llm.usage.tracker import BudgetExceededError, track_usage, usage_table


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'persona_llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
